#ifndef CCURL_SHIM_H
#define CCURL_SHIM_H
#include <curl/curl.h>
#include <sys/epoll.h>
/* curl_easy_setopt, curl_multi_setopt and curl_easy_getinfo are C variadics, which Swift cannot call:
   one typed, static inline wrapper per argument kind (static so that no symbol is exported twice). */
static inline CURLcode ccurl_setopt_long(CURL *_Nonnull h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_setopt_off(CURL *_Nonnull h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_setopt_ptr(CURL *_Nonnull h, CURLoption o, void *_Nullable v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_setopt_str(CURL *_Nonnull h, CURLoption o, const char *_Nullable v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_setopt_slist(CURL *_Nonnull h, CURLoption o, struct curl_slist *_Nullable v) { return curl_easy_setopt(h, o, v); }
typedef size_t (*ccurl_data_cb)(char *_Nonnull, size_t, size_t, void *_Nullable);
static inline CURLcode ccurl_setopt_datafn(CURL *_Nonnull h, CURLoption o, ccurl_data_cb _Nullable f) { return curl_easy_setopt(h, o, f); }
static inline CURLcode ccurl_setopt_seekfn(CURL *_Nonnull h, curl_seek_callback _Nullable f) { return curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, f); }
static inline CURLcode ccurl_setopt_closefn(CURL *_Nonnull h, curl_closesocket_callback _Nullable f) { return curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, f); }
static inline CURLMcode ccurl_multi_setopt_long(CURLM *_Nonnull m, CURLMoption o, long v) { return curl_multi_setopt(m, o, v); }
static inline CURLMcode ccurl_multi_setopt_ptr(CURLM *_Nonnull m, CURLMoption o, void *_Nullable v) { return curl_multi_setopt(m, o, v); }
static inline CURLMcode ccurl_multi_setopt_socketfn(CURLM *_Nonnull m, curl_socket_callback _Nullable f) { return curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, f); }
static inline CURLMcode ccurl_multi_setopt_timerfn(CURLM *_Nonnull m, curl_multi_timer_callback _Nullable f) { return curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, f); }
static inline CURLcode ccurl_getinfo_long(CURL *_Nonnull h, CURLINFO i, long *_Nonnull out) { return curl_easy_getinfo(h, i, out); }
static inline CURLcode ccurl_getinfo_off(CURL *_Nonnull h, CURLINFO i, curl_off_t *_Nonnull out) { return curl_easy_getinfo(h, i, out); }
static inline CURLcode ccurl_getinfo_ptr(CURL *_Nonnull h, CURLINFO i, void *_Nullable *_Nonnull out) { return curl_easy_getinfo(h, i, out); }
static inline CURLcode ccurl_getinfo_str(CURL *_Nonnull h, CURLINFO i, const char *_Nullable *_Nonnull out) { return curl_easy_getinfo(h, i, out); }
static inline CURLcode ccurl_setopt_prereqfn(CURL *_Nonnull h, curl_prereq_callback _Nullable f) { return curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, f); }

/* epoll, for the transport's event loop (Glibc's Swift module does not export it). The event struct is
   packed on x86_64, so Swift only ever sees plain ints: curl's CURL_POLL_* in, CURL_CSELECT_* out. */
#include <errno.h>
#include <string.h>

/* Applies one CURLMOPT_SOCKETFUNCTION change for `fd` to the epoll set `epfd`. REMOVE (and NONE)
   drop the fd; IN/OUT/INOUT add it or change its interest. A closed and reused fd number is simply
   added again (closing an fd removes it from epoll by itself). Returns 0, or -1 with errno. */
static inline int ccurl_epoll_watch(int epfd, int fd, int what) {
    if (what == CURL_POLL_REMOVE || what == CURL_POLL_NONE) {
        if (epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL) == 0 || errno == ENOENT || errno == EBADF) return 0;
        return -1;
    }
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
    ev.data.fd = fd;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0) return 0;
    if (errno == EEXIST) return epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
    return -1;
}

/* Collects up to `max` (at most 256) ready fds without blocking, each with its CURL_CSELECT_* mask. */
static inline int ccurl_epoll_ready(int epfd, int *_Nonnull fds, int *_Nonnull masks, int max) {
    struct epoll_event evs[256];
    if (max > 256) max = 256;
    int n;
    do { n = epoll_wait(epfd, evs, max, 0); } while (n < 0 && errno == EINTR);
    for (int i = 0; i < n; i++) {
        int m = 0;
        if (evs[i].events & EPOLLIN) m |= CURL_CSELECT_IN;
        if (evs[i].events & EPOLLOUT) m |= CURL_CSELECT_OUT;
        if (evs[i].events & (EPOLLERR | EPOLLHUP)) m |= CURL_CSELECT_ERR;
        fds[i] = evs[i].data.fd;
        masks[i] = m;
    }
    return n;
}
#endif
