#ifndef COUPOND_CSYSTEM_H
#define COUPOND_CSYSTEM_H
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <errno.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/resource.h>

// Constants that Swift imports awkwardly (enums/macros with casts) re-exposed as plain ints.
static inline int csystem_epollin(void) { return EPOLLIN; }
static inline int csystem_epollout(void) { return EPOLLOUT; }
static inline int csystem_epollerr(void) { return EPOLLERR; }
static inline int csystem_epollhup(void) { return EPOLLHUP; }
static inline int csystem_epollrdhup(void) { return EPOLLRDHUP; }
static inline int csystem_sock_stream_nonblock(void) { return SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC; }
static inline int csystem_accept_flags(void) { return SOCK_NONBLOCK | SOCK_CLOEXEC; }

/// The calling thread's kernel id (gettid).
static inline int csystem_gettid(void) { return (int)syscall(SYS_gettid); }
/// setpriority(PRIO_PROCESS, tid, nice) for one thread; 0 or -1 with errno.
static inline int csystem_set_thread_nice(int tid, int nice) { return setpriority(PRIO_PROCESS, (id_t)tid, nice); }
/// getpriority for one thread (errno distinguishes -1).
static inline int csystem_thread_nice(int tid) { return getpriority(PRIO_PROCESS, (id_t)tid); }

/// Sets an int-valued socket option; returns setsockopt's result.
int csystem_setsockopt_int(int fd, int level, int name, int value);
/// accept4 with non-blocking + close-on-exec.
int csystem_accept(int fd);
/// accept4 like csystem_accept, writing the peer's address as text into `address` ("" if unknown).
int csystem_accept_peer(int fd, char *address, int capacity);
/// Binds and listens on an IPv4 address ("127.0.0.1") and port; SO_REUSEADDR and, when
/// reuseport is non-zero, SO_REUSEPORT. Returns the fd or -1 with errno set.
int csystem_listen_tcp4(const char *host, int port, int backlog, int reuseport);
/// The local port a socket is bound to, or -1.
int csystem_local_port(int fd);
/// Non-blocking connect to an IPv4 address; returns the fd (connect may be in progress) or -1.
int csystem_connect_tcp4(const char *host, int port);
/// 1 when the peer of a connected socket has closed or reset it (POLLRDHUP, POLLHUP or
/// POLLERR right now), else 0. Does not read: unread input stays in the socket.
int csystem_peer_hung_up(int fd);


/// The event loop running on this thread (an opaque pointer owned by Swift), or NULL.
void *csystem_current_loop(void);
void csystem_set_current_loop(void *loop);
#endif
