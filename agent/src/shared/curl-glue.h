/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * libcurl's multi interface driven by sd-event: curl tells us which sockets
 * to watch (CURLMOPT_SOCKETFUNCTION) and when to wake it up
 * (CURLMOPT_TIMERFUNCTION); we translate those into sd-event io and time
 * sources and hand the events back with curl_multi_socket_action(). Nothing
 * here blocks: name resolution runs in libcurl's resolver thread
 * (Debian's libcurl is built with the threaded resolver).
 *
 * One glue per event loop; connections are cached in the multi handle, so
 * consecutive requests to one endpoint reuse the connection.
 */

#include <curl/curl.h>
#include <systemd/sd-event.h>

#include "macro.h"

typedef struct CurlGlue CurlGlue;

/* Called once per finished transfer; the easy handle is already removed from
 * the multi handle. `userdata` is what curl_glue_add() was given. */
typedef void (*CurlGlueDone)(CURL *easy, CURLcode result, void *userdata);

int curl_glue_new(sd_event *event, CurlGlue **ret);
CurlGlue *curl_glue_free(CurlGlue *g);
DEFINE_TRIVIAL_CLEANUP_FUNC(CurlGlue *, curl_glue_free);

int curl_glue_add(CurlGlue *g, CURL *easy, CurlGlueDone done, void *userdata);
/* Abort a transfer without calling its done callback. */
void curl_glue_remove(CurlGlue *g, CURL *easy);
