"""The gRPC service: a thin servicer over the pipeline, plus what a long-running server needs
(worker pool and admission, security, metrics, structured logs, graceful shutdown)."""
