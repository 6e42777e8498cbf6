/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include "curl-glue.h"

struct CurlGlue {
        sd_event *event;
        CURLM *multi;
        sd_event_source *timer;
        /* Every io source we created, so none outlives the glue even if
         * curl_multi_cleanup() does not report each socket's removal. */
        sd_event_source **ios;
        size_t n_ios;
};

static void glue_forget_io(CurlGlue *g, sd_event_source *io) {
        for (size_t i = 0; i < g->n_ios; i++)
                if (g->ios[i] == io) {
                        g->ios[i] = g->ios[--g->n_ios];
                        break;
                }
        sd_event_source_disable_unref(io);
}

static int glue_remember_io(CurlGlue *g, sd_event_source *io) {
        sd_event_source **a = realloc(g->ios, (g->n_ios + 1) * sizeof(*a));
        if (!a)
                return -ENOMEM;
        g->ios = a;
        g->ios[g->n_ios++] = io;
        return 0;
}

/* Per-transfer bookkeeping, stored in CURLOPT_PRIVATE. */
typedef struct Transfer {
        CurlGlueDone done;
        void *userdata;
} Transfer;

static void glue_check_finished(CurlGlue *g) {
        CURLMsg *msg;
        int left;

        while ((msg = curl_multi_info_read(g->multi, &left))) {
                Transfer *t = NULL;
                CURL *easy;
                CURLcode result;

                if (msg->msg != CURLMSG_DONE)
                        continue;
                easy = msg->easy_handle;
                result = msg->data.result;
                (void) curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **) &t);
                curl_multi_remove_handle(g->multi, easy);
                curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
                if (t) {
                        CurlGlueDone done = t->done;
                        void *userdata = t->userdata;
                        free(t);
                        /* May free `easy` and start new transfers. */
                        done(easy, result, userdata);
                }
        }
}

static int on_curl_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        CurlGlue *g = userdata;
        int action = 0, running;

        if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
                action |= CURL_CSELECT_IN;
        if (revents & EPOLLOUT)
                action |= CURL_CSELECT_OUT;
        if (revents & EPOLLERR)
                action |= CURL_CSELECT_ERR;
        (void) curl_multi_socket_action(g->multi, fd, action, &running);
        glue_check_finished(g);
        return 0;
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
        CurlGlue *g = userp;
        sd_event_source *io = socketp;
        uint32_t events = 0;

        if (what == CURL_POLL_REMOVE) {
                if (io) {
                        glue_forget_io(g, io);
                        curl_multi_assign(g->multi, fd, NULL);
                }
                return 0;
        }
        if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
                events |= EPOLLIN;
        if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
                events |= EPOLLOUT;

        if (io) {
                if (sd_event_source_set_io_events(io, events) < 0 ||
                    sd_event_source_set_enabled(io, SD_EVENT_ON) < 0)
                        return -1;
                return 0;
        }
        if (sd_event_add_io(g->event, &io, fd, events, on_curl_io, g) < 0)
                return -1;
        (void) sd_event_source_set_description(io, "curl-io");
        if (glue_remember_io(g, io) < 0) {
                sd_event_source_disable_unref(io);
                return -1;
        }
        if (curl_multi_assign(g->multi, fd, io) != CURLM_OK) {
                glue_forget_io(g, io);
                return -1;
        }
        return 0;
}

static int on_curl_timer_elapsed(sd_event_source *s, uint64_t usec, void *userdata) {
        CurlGlue *g = userdata;
        int running;

        (void) curl_multi_socket_action(g->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        glue_check_finished(g);
        return 0;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp) {
        CurlGlue *g = userp;
        uint64_t now;

        if (timeout_ms < 0) {
                if (g->timer)
                        (void) sd_event_source_set_enabled(g->timer, SD_EVENT_OFF);
                return 0;
        }
        if (sd_event_now(g->event, CLOCK_MONOTONIC, &now) < 0)
                return -1;
        now += (uint64_t) timeout_ms * 1000;
        if (g->timer) {
                if (sd_event_source_set_time(g->timer, now) < 0 ||
                    sd_event_source_set_enabled(g->timer, SD_EVENT_ONESHOT) < 0)
                        return -1;
                return 0;
        }
        /* Accuracy 1 µs: 0 would mean sd-event's default of 250 ms, which
         * delays every transfer that curl schedules through a timer. */
        if (sd_event_add_time(g->event, &g->timer, CLOCK_MONOTONIC, now, 1, on_curl_timer_elapsed, g) < 0)
                return -1;
        (void) sd_event_source_set_description(g->timer, "curl-timer");
        return 0;
}

int curl_glue_new(sd_event *event, CurlGlue **ret) {
        _cleanup_(curl_glue_freep) CurlGlue *g = NULL;

        g = calloc(1, sizeof(*g));
        if (!g)
                return -ENOMEM;
        g->event = sd_event_ref(event);
        g->multi = curl_multi_init();
        if (!g->multi)
                return -ENOMEM;
        if (curl_multi_setopt(g->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket) != CURLM_OK ||
            curl_multi_setopt(g->multi, CURLMOPT_SOCKETDATA, g) != CURLM_OK ||
            curl_multi_setopt(g->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer) != CURLM_OK ||
            curl_multi_setopt(g->multi, CURLMOPT_TIMERDATA, g) != CURLM_OK)
                return -EINVAL;
        /* Bounded connection cache: we talk to a handful of endpoints. */
        (void) curl_multi_setopt(g->multi, CURLMOPT_MAXCONNECTS, 16L);
        *ret = TAKE_PTR(g);
        return 0;
}

CurlGlue *curl_glue_free(CurlGlue *g) {
        if (!g)
                return NULL;
        if (g->multi)
                curl_multi_cleanup(g->multi);
        for (size_t i = 0; i < g->n_ios; i++)
                sd_event_source_disable_unref(g->ios[i]);
        free(g->ios);
        sd_event_source_disable_unref(g->timer);
        sd_event_unref(g->event);
        return mfree(g);
}

int curl_glue_add(CurlGlue *g, CURL *easy, CurlGlueDone done, void *userdata) {
        Transfer *t = calloc(1, sizeof(*t));

        if (!t)
                return -ENOMEM;
        t->done = done;
        t->userdata = userdata;
        if (curl_easy_setopt(easy, CURLOPT_PRIVATE, t) != CURLE_OK) {
                free(t);
                return -EINVAL;
        }
        if (curl_multi_add_handle(g->multi, easy) != CURLM_OK) {
                curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
                free(t);
                return -EINVAL;
        }
        return 0;
}

void curl_glue_remove(CurlGlue *g, CURL *easy) {
        Transfer *t = NULL;

        if (!g || !easy)
                return;
        (void) curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **) &t);
        if (!t)
                return;         /* not running */
        curl_multi_remove_handle(g->multi, easy);
        curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
        free(t);
}
