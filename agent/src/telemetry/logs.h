/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Log shipping to CloudWatch Logs: every [logs.NAME] source (files or the
 * journal) feeds one stream, through batches filled to AWS's limits
 * (log-batch.h). One batch is in flight per stream, so what arrives is in
 * order; the next one waits sealed, and the one after is being filled.
 * When that queue is full the readers stop: the files (and the journal) are
 * the buffer, so memory stays bounded through a CloudWatch outage.
 *
 * A batch goes when full or flush_interval after its first event. Its
 * answer decides what happens: accepted → the checkpoint moves (saved
 * atomically; never before, so delivery is at-least-once); events refused
 * one by one (rejectedLogEventsInfo) → counted; stream missing → created
 * (after a random delay: a whole ASG starts at once and CreateLogStream is
 * limited to 50/s), the group too with create_group; throttling, 5xx and
 * dropped connections → aws_call's retries, then ours with backoff, for
 * ever; a batch CloudWatch can never accept → dropped with an error.
 *
 * logs_flush() is the drain: everything written so far is read, partial
 * lines included, and shipped, or the deadline passes.
 */

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "aws.h"
#include "callback.h"
#include "component.h"
#include "logs-settings.h"
#include "macro.h"

typedef struct Logs Logs;

typedef enum LogsEventType {
        LOGS_EVENT_FLUSHED,             /* error -ETIMEDOUT: the deadline passed first */
} LogsEventType;

/* Settings and sources are copied. state_dir: where checkpoints go when
 * [logs] state_dir is unset. */
int logs_new(sd_event *e, AwsClient *aws, const LogsSettings *s, LogSourceSettings *const *sources, size_t n,
             const char *state_dir, Logs **ret);
Logs *logs_free(Logs *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(Logs *, logs_free);

/* After bootstrap: stream names can be expanded ({instance.id}); sources
 * start reading from their checkpoints. */
int logs_start(Logs *l, const char *instance_id, const char *hostname);
size_t logs_count(Logs *l);

/* Ships everything written up to now; cb (from the loop) with
 * LOGS_EVENT_FLUSHED, error 0 or -ETIMEDOUT. One flush at a time: -EBUSY. */
int logs_flush(Logs *l, usec_t timeout, AgentCallback cb, void *userdata);

int logs_add_components(Logs *l, ComponentList *list);
/* How far shipping is behind: bytes written and not yet delivered (files,
 * summed), and the age of the oldest line waiting (seconds, the largest). */
void logs_lag(Logs *l, uint64_t *ret_bytes, usec_t *ret_age);
