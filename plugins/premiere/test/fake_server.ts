// A fake fetch that answers like a Connect server, for unit tests of the panel's logic: unary
// calls as JSON, server streams as `application/connect+json` envelopes (flags byte, 4-byte
// big-endian length, JSON). Real servers are exercised by tests/e2e/test_premiere_panel.py.

export interface RecordedCall {
  method: string;
  authorization: string | null;
  body: unknown;
}

export type Reply =
  | { kind: "unary"; status: number; body: unknown }
  | { kind: "stream"; messages: unknown[]; endError?: { code: string; message: string } }
  | { kind: "refuse-connection" };

function envelope(flags: number, json: unknown): Uint8Array {
  const payload = new TextEncoder().encode(JSON.stringify(json));
  const frame = new Uint8Array(5 + payload.length);
  frame[0] = flags;
  new DataView(frame.buffer).setUint32(1, payload.length, false);
  frame.set(payload, 5);
  return frame;
}

/** fetch answering each method name (the URL's last segment) with its scripted reply. */
export function fakeConnectFetch(replies: Record<string, Reply>, calls: RecordedCall[] = []): typeof fetch {
  return async (input, init) => {
    const url = String(input instanceof Request ? input.url : input);
    const method = url.slice(url.lastIndexOf("/") + 1);
    const headers = new Headers(init?.headers);
    const raw = init?.body instanceof Uint8Array ? new TextDecoder().decode(init.body) : String(init?.body ?? "");
    const streaming = (headers.get("content-type") ?? "").startsWith("application/connect+json");
    const text = streaming ? raw.slice(5) : raw;
    calls.push({ method, authorization: headers.get("authorization"), body: text ? JSON.parse(text) : null });
    const reply = replies[method];
    if (!reply) throw new Error(`fake server has no reply for ${method}`);
    if (reply.kind === "refuse-connection") throw new TypeError("fetch failed");
    if (reply.kind === "unary") {
      return new Response(JSON.stringify(reply.body), {
        status: reply.status,
        headers: { "content-type": "application/json" },
      });
    }
    const frames = reply.messages.map((message) => envelope(0, message));
    frames.push(envelope(2, reply.endError ? { error: reply.endError } : {}));
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        frames.forEach((frame) => controller.enqueue(frame));
        controller.close();
      },
    });
    return new Response(body, { status: 200, headers: { "content-type": "application/connect+json" } });
  };
}

export function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64");
}
