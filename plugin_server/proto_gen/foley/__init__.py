"""Generated from protos/ by plugin_server.proto_build; do not edit."""
