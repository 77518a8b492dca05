/*
 * originalDst(fd): the destination a connection had before iptables REDIRECT (or TPROXY) sent it
 * to this socket, read with getsockopt SO_ORIGINAL_DST (IPv4, SOL_IP) or IP6T_SO_ORIGINAL_DST
 * (IPv6, SOL_IPV6). Returns { address, port, family: 'IPv4' | 'IPv6' }; throws an Error whose
 * `code` is the errno name (ENOENT: no NAT entry for this connection) on failure.
 * Linux only; a Node-API (version 8) addon, so one build serves every supported Node.
 */
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

static const char *errno_code(int e) {
  switch (e) {
    case ENOENT: return "ENOENT";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case EBADF: return "EBADF";
    case ENOTSOCK: return "ENOTSOCK";
    case EINVAL: return "EINVAL";
    case ENOTCONN: return "ENOTCONN";
    default: return "EUNKNOWN";
  }
}

static napi_value throw_errno(napi_env env, const char *what, int e) {
  char message[160];
  snprintf(message, sizeof message, "%s: %s", what, strerror(e));
  napi_throw_error(env, errno_code(e), message);
  return NULL;
}

static napi_value set_result(napi_env env, const char *address, unsigned port, const char *family) {
  napi_value out, v;
  if (napi_create_object(env, &out) != napi_ok) return NULL;
  napi_create_string_utf8(env, address, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, out, "address", v);
  napi_create_uint32(env, port, &v);
  napi_set_named_property(env, out, "port", v);
  napi_create_string_utf8(env, family, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, out, "family", v);
  return out;
}

static napi_value original_dst(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, "EINVAL", "originalDst(fd): fd must be a non-negative integer");
    return NULL;
  }
  struct sockaddr_storage local;
  socklen_t local_len = sizeof local;
  if (getsockname(fd, (struct sockaddr *)&local, &local_len) != 0) return throw_errno(env, "getsockname", errno);
  char text[INET6_ADDRSTRLEN];
  if (local.ss_family == AF_INET6) {
    struct sockaddr_in6 dst6;
    socklen_t len6 = sizeof dst6;
    memset(&dst6, 0, sizeof dst6);
    if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &dst6, &len6) == 0) {
      if (inet_ntop(AF_INET6, &dst6.sin6_addr, text, sizeof text) == NULL) return throw_errno(env, "inet_ntop", errno);
      return set_result(env, text, ntohs(dst6.sin6_port), "IPv6");
    }
    /* A v4-mapped connection on a dual-stack socket: the IPv4 option may still answer. */
  }
  struct sockaddr_in dst;
  socklen_t len = sizeof dst;
  memset(&dst, 0, sizeof dst);
  if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &dst, &len) != 0) return throw_errno(env, "getsockopt SO_ORIGINAL_DST", errno);
  if (inet_ntop(AF_INET, &dst.sin_addr, text, sizeof text) == NULL) return throw_errno(env, "inet_ntop", errno);
  return set_result(env, text, ntohs(dst.sin_port), "IPv4");
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "originalDst", NAPI_AUTO_LENGTH, original_dst, NULL, &fn) != napi_ok) return NULL;
  napi_set_named_property(env, exports, "originalDst", fn);
  return exports;
}
