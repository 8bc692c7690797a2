/*
 * fdpass: the few POSIX socket calls Node does not expose, for the hsmd fd protocol.
 *
 * lightningd hands hsmd a socket on fd 3 and receives client sockets from it as
 * SCM_RIGHTS ancillary data (ccan/fdpass: one sendmsg of exactly one data byte 0x00
 * carrying one int). Node's net module cannot send or receive descriptors on a plain
 * stream socket, so this addon does exactly that and nothing more:
 *
 *   socketpair()                  -> [fd0, fd1]   AF_UNIX stream pair, blocking, close-on-exec
 *   sendFd(sock, fd)              -> undefined    one byte 0x00 + SCM_RIGHTS (waits out EAGAIN)
 *   recvFd(sock, timeoutMs)       -> fd           the descriptor sent by sendFd (or ccan/fdpass)
 *   setBlocking(fd, blocking)     -> undefined    clears or sets O_NONBLOCK
 *   poll(fd, writable, timeoutMs) -> boolean      true if fd is readable (or writable)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static napi_value throw_errno(napi_env env, const char *what) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(errno));
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static int int_arg(napi_env env, napi_callback_info info, size_t i, int32_t *out) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || i >= argc ||
      napi_get_value_int32(env, argv[i], out) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected an integer argument");
    return 0;
  }
  return 1;
}

static int bool_arg(napi_env env, napi_callback_info info, size_t i, bool *out) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || i >= argc ||
      napi_get_value_bool(env, argv[i], out) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected a boolean argument");
    return 0;
  }
  return 1;
}

/* Waits until fd is ready; returns 1 ready, 0 timed out, -1 error (errno set). */
static int wait_for(int fd, short events, int timeout_ms) {
  struct pollfd p = {.fd = fd, .events = events};
  for (;;) {
    int n = poll(&p, 1, timeout_ms);
    if (n >= 0) return n > 0;
    if (errno != EINTR) return -1;
  }
}

static napi_value js_socketpair(napi_env env, napi_callback_info info) {
  (void)info;
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return throw_errno(env, "socketpair");
  napi_value arr, a, b;
  napi_create_array_with_length(env, 2, &arr);
  napi_create_int32(env, fds[0], &a);
  napi_create_int32(env, fds[1], &b);
  napi_set_element(env, arr, 0, a);
  napi_set_element(env, arr, 1, b);
  return arr;
}

static napi_value js_send_fd(napi_env env, napi_callback_info info) {
  int32_t sock, fd;
  if (!int_arg(env, info, 0, &sock) || !int_arg(env, info, 1, &fd)) return NULL;
  char byte = 0; /* ccan/fdpass sends 0x00; the receiver ignores its value */
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } control;
  memset(&control, 0, sizeof control);
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
                       .msg_control = control.buf, .msg_controllen = sizeof control.buf};
  struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
  for (;;) {
    ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (n == 1) return NULL;
    if (n < 0 && errno == EINTR) continue;
    /* The socket may be non-blocking (libuv owns it): wait until it drains. */
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (wait_for(sock, POLLOUT, -1) < 0) return throw_errno(env, "poll");
      continue;
    }
    return throw_errno(env, "sendmsg(SCM_RIGHTS)");
  }
}

static napi_value js_recv_fd(napi_env env, napi_callback_info info) {
  int32_t sock, timeout_ms;
  if (!int_arg(env, info, 0, &sock) || !int_arg(env, info, 1, &timeout_ms)) return NULL;
  for (;;) {
    int ready = wait_for(sock, POLLIN, timeout_ms);
    if (ready < 0) return throw_errno(env, "poll");
    if (ready == 0) {
      napi_throw_error(env, "ETIMEDOUT", "recvFd: no descriptor arrived in time");
      return NULL;
    }
    char byte;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } control;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
                         .msg_control = control.buf, .msg_controllen = sizeof control.buf};
    ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n < 0) return throw_errno(env, "recvmsg");
    if (n == 0) {
      napi_throw_error(env, "EPIPE", "recvFd: the socket closed before a descriptor arrived");
      return NULL;
    }
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    /* As fdpass_recv: exactly one int of SCM_RIGHTS, the data byte's value ignored. */
    if (!cmsg || cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS ||
        cmsg->cmsg_len != CMSG_LEN(sizeof(int))) {
      napi_throw_error(env, "EPROTO", "recvFd: a data byte arrived without exactly one descriptor");
      return NULL;
    }
    int fd;
    memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
    napi_value out;
    napi_create_int32(env, fd, &out);
    return out;
  }
}

static napi_value js_set_blocking(napi_env env, napi_callback_info info) {
  int32_t fd;
  bool blocking;
  if (!int_arg(env, info, 0, &fd) || !bool_arg(env, info, 1, &blocking)) return NULL;
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return throw_errno(env, "fcntl(F_GETFL)");
  flags = blocking ? (flags & ~O_NONBLOCK) : (flags | O_NONBLOCK);
  if (fcntl(fd, F_SETFL, flags) != 0) return throw_errno(env, "fcntl(F_SETFL)");
  return NULL;
}

static napi_value js_poll(napi_env env, napi_callback_info info) {
  int32_t fd, timeout_ms;
  bool writable;
  if (!int_arg(env, info, 0, &fd) || !bool_arg(env, info, 1, &writable) ||
      !int_arg(env, info, 2, &timeout_ms)) return NULL;
  int ready = wait_for(fd, writable ? POLLOUT : POLLIN, timeout_ms);
  if (ready < 0) return throw_errno(env, "poll");
  napi_value out;
  napi_get_boolean(env, ready > 0, &out);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"socketpair", NULL, js_socketpair, NULL, NULL, NULL, napi_enumerable, NULL},
    {"sendFd", NULL, js_send_fd, NULL, NULL, NULL, napi_enumerable, NULL},
    {"recvFd", NULL, js_recv_fd, NULL, NULL, NULL, napi_enumerable, NULL},
    {"setBlocking", NULL, js_set_blocking, NULL, NULL, NULL, napi_enumerable, NULL},
    {"poll", NULL, js_poll, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
