/* SPDX-License-Identifier: MIT */
#pragma once

#include <cjson/cJSON.h>

typedef struct Manager Manager;

/* The document `agentctl status --json` prints; agentctl renders the same
 * document as text, so both always agree. Nothing secret goes in. */
int status_build(Manager *m, cJSON **ret);
