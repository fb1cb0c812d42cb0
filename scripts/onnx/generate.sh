#!/usr/bin/env bash
# Regenerates Sources/VitEngine/Export/onnx.pb.swift from onnx.proto3 (ONNX v1.17.0's schema,
# Apache-2.0, copied unchanged from github.com/onnx/onnx onnx/onnx.proto3). Needs protoc
# (apt-get install protobuf-compiler) and swift-protobuf's plugin, built here from the package
# the project depends on (about ten minutes the first time). The generated file is committed:
# builds never run this.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
command -v protoc >/dev/null || { echo "needs protoc: apt-get install protobuf-compiler" >&2; exit 1; }
swift package --package-path "$root" resolve
plugin_src="$root/.build/checkouts/swift-protobuf"
swift build -c release --package-path "$plugin_src" --product protoc-gen-swift
cd "$here"
protoc --plugin="$plugin_src/.build/release/protoc-gen-swift" --swift_out="$root/Sources/VitEngine/Export" \
  --swift_opt=Visibility=Internal onnx.proto3
echo "wrote $root/Sources/VitEngine/Export/onnx.pb.swift"
