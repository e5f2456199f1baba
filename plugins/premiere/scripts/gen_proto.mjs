// Regenerates src/gen/ from protos/foley/v1/foley.proto (the one source of truth) with
// protoc-gen-es. protoc comes from the repository's Python environment (grpcio-tools), so no
// separate protoc install is needed: run `make venv` at the repository root first.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const panel = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const repo = resolve(panel, "..", "..");
const python = process.env.FOLEY_PYTHON ?? join(repo, ".venv", "bin", "python");
if (!existsSync(python)) {
  console.error(`gen_proto: ${python} not found; run \`make venv\` at the repository root first`);
  process.exit(2);
}
const out = join(panel, "src", "gen");
mkdirSync(out, { recursive: true });
execFileSync(
  python,
  [
    "-m",
    "grpc_tools.protoc",
    `--plugin=protoc-gen-es=${join(panel, "node_modules", ".bin", "protoc-gen-es")}`,
    `--es_out=${out}`,
    // TypeScript output, imports without extensions: esbuild resolves them.
    "--es_opt=target=ts",
    `--proto_path=${join(repo, "protos")}`,
    "foley/v1/foley.proto",
  ],
  { stdio: "inherit" },
);
console.log(`gen_proto: wrote ${join(out, "foley", "v1", "foley_pb.ts")}`);
