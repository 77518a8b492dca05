{
  "targets": [
    {
      "target_name": "original_dst",
      "sources": ["original_dst.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-O2"],
      "conditions": [["OS!='linux'", {"type": "none", "sources": []}]]
    }
  ]
}
