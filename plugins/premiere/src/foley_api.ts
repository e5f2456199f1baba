// The foley.v1 service over the Connect protocol (JSON over HTTP/1.1; server streaming as
// `application/connect+json` frames), with the server's bearer token. The generated FoleyService
// descriptor is the only API definition: nothing here restates a message by hand.

import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";

import { FoleyService } from "./gen/foley/v1/foley_pb";

export type FoleyClient = Client<typeof FoleyService>;

/** A server address the panel cannot use, with what to type instead. */
export class SettingsError extends Error {
  override name = "SettingsError";
}

/**
 * "host:port", "http://host:port" or "https://host:port/prefix" -> the base URL the Connect
 * paths hang off ("http://host:port"). A bare host:port means plain HTTP, as `serve --http-port`
 * listens without TLS unless it was given a certificate.
 */
export function serverBaseUrl(address: string): string {
  const trimmed = address.trim();
  if (!trimmed) {
    throw new SettingsError("No server address: enter the address of `foley-server serve --http-port`, e.g. http://127.0.0.1:8080");
  }
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `http://${trimmed}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new SettingsError(`"${address}" is not a server address; expected e.g. http://127.0.0.1:8080`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new SettingsError(`"${address}" uses ${url.protocol}; the panel speaks http:// or https:// only`);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}

/**
 * fetch that turns a failed connection into a typed Unavailable error naming the server, so the
 * panel can tell "unreachable" from a server that answered with an error.
 */
function fetchNamingServer(baseUrl: string, fetchImpl: typeof fetch): typeof fetch {
  return async (input, init) => {
    try {
      return await fetchImpl(input, init);
    } catch (error) {
      if (init?.signal?.aborted) throw error;
      throw new ConnectError(
        `cannot reach the Foley server at ${baseUrl}`,
        Code.Unavailable,
        undefined,
        undefined,
        error,
      );
    }
  };
}

export function createFoleyClient(address: string, token: string, fetchImpl: typeof fetch = globalThis.fetch.bind(globalThis)): FoleyClient {
  const baseUrl = serverBaseUrl(address);
  const interceptors: Interceptor[] = [];
  const bearer = token.trim();
  if (bearer) {
    interceptors.push((next) => async (request) => {
      request.header.set("Authorization", `Bearer ${bearer}`);
      return next(request);
    });
  }
  const transport = createConnectTransport({
    baseUrl,
    useBinaryFormat: false,
    interceptors,
    fetch: fetchNamingServer(baseUrl, fetchImpl),
  });
  return createClient(FoleyService, transport);
}

/** A message an editor can act on for any failure of a call to the server. */
export function describeError(error: unknown, address: string): string {
  if (error instanceof SettingsError) return error.message;
  const connectError = ConnectError.from(error);
  const where = address.trim() || "the server";
  switch (connectError.code) {
    case Code.Unauthenticated:
      return (
        `The server at ${where} refused the token (${connectError.rawMessage}). ` +
        "Check the token in Settings: it must match the server's --auth-token-file or FOLEY_AUTH_TOKEN."
      );
    case Code.PermissionDenied:
      return `The server at ${where} refused this request: ${connectError.rawMessage}`;
    case Code.Unavailable:
      if (connectError.cause !== undefined) {
        return (
          `Cannot reach the Foley server at ${where}. Is \`foley-server serve --http-port\` running there, ` +
          "and does its --cors-origin allow this panel?"
        );
      }
      return `The server at ${where} is not taking jobs now: ${connectError.rawMessage}`;
    case Code.ResourceExhausted:
      return `The server at ${where} is busy (${connectError.rawMessage}); try again in a moment.`;
    case Code.Canceled:
      return "Cancelled.";
    case Code.InvalidArgument:
    case Code.FailedPrecondition:
    case Code.NotFound:
    case Code.OutOfRange:
      return `The server refused the timeline: ${connectError.rawMessage}`;
    case Code.DeadlineExceeded:
      return `The server at ${where} did not answer in time.`;
    default:
      return `The server at ${where} failed: [${Code[connectError.code] ?? connectError.code}] ${connectError.rawMessage}`;
  }
}

/** Hex SHA-256, or "" where the runtime has no WebCrypto digest (then the size check stands alone). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return "";
  const digest = await subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}
