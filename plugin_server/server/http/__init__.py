"""The service over HTTP/1.1 for browsers and `curl`: Connect (JSON or binary protobuf, unary and
server streaming), gRPC-Web (binary and base64 text) and `GET /files/<path>` under the output
root, beside native gRPC in the same process (`foley-server serve --http-port N`).

The Connect stubs are generated from protos/foley/v1/foley.proto (`foley_connect.py`); the
handlers call the same translate layer and FoleyService as the gRPC servicer. See docs/api.md.
"""
