#define _GNU_SOURCE
#include "csystem.h"
#include <string.h>
#include <poll.h>

int csystem_setsockopt_int(int fd, int level, int name, int value) {
    return setsockopt(fd, level, name, &value, sizeof(value));
}

int csystem_accept(int fd) {
    return accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

int csystem_accept_peer(int fd, char *address, int capacity) {
    struct sockaddr_storage peer;
    socklen_t length = sizeof(peer);
    int client = accept4(fd, (struct sockaddr *)&peer, &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (client < 0 || capacity <= 0) return client;
    address[0] = 0;
    if (peer.ss_family == AF_INET) {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&peer)->sin_addr, address, (socklen_t)capacity);
    } else if (peer.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&peer)->sin6_addr, address, (socklen_t)capacity);
    }
    return client;
}

int csystem_listen_tcp4(const char *host, int port, int backlog, int reuseport) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuseport) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) { close(fd); errno = EINVAL; return -1; }
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) { int e = errno; close(fd); errno = e; return -1; }
    if (listen(fd, backlog) < 0) { int e = errno; close(fd); errno = e; return -1; }
    return fd;
}

int csystem_local_port(int fd) {
    struct sockaddr_in addr;
    socklen_t len = sizeof(addr);
    if (getsockname(fd, (struct sockaddr *)&addr, &len) < 0) return -1;
    return ntohs(addr.sin_port);
}

int csystem_connect_tcp4(const char *host, int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) { close(fd); errno = EINVAL; return -1; }
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 && errno != EINPROGRESS) {
        int e = errno; close(fd); errno = e; return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static __thread void *current_loop = NULL;

void *csystem_current_loop(void) { return current_loop; }
void csystem_set_current_loop(void *loop) { current_loop = loop; }

int csystem_peer_hung_up(int fd) {
    struct pollfd entry = { .fd = fd, .events = POLLRDHUP, .revents = 0 };
    if (poll(&entry, 1, 0) < 0) return 0;
    return (entry.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}
