/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Follows the systemd journal for one [logs.NAME] journal= source with
 * sd-journal: the system journal, or the journal files of a directory
 * (journal_directory=, what the tests use). Matches on the same field are
 * alternatives, on different fields all required (journalctl's rules); a
 * priority= minimum adds PRIORITY=0..N. Each entry becomes one event,
 * "IDENTIFIER[PID]: MESSAGE", stamped with the entry's own time.
 *
 * It resumes after the cursor of the last entry CloudWatch accepted (saved
 * by the owner); with none, it starts at the head of the journal. New
 * entries are noticed through sd_journal_get_fd() on the loop. Reading
 * stops while the sink is full, like the file reader.
 */

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "log-file.h"
#include "logs-settings.h"
#include "macro.h"

typedef struct LogJournal LogJournal;

int log_journal_new(sd_event *e, const LogSourceSettings *s, const LogSink *sink, LogJournal **ret);
LogJournal *log_journal_free(LogJournal *j);
DEFINE_TRIVIAL_CLEANUP_FUNC(LogJournal *, log_journal_free);

/* Opens the journal and starts after cursor (NULL: the head). */
int log_journal_start(LogJournal *j, const char *cursor);
void log_journal_resume(LogJournal *j);
bool log_journal_caught_up(LogJournal *j);
const char *log_journal_last_error(LogJournal *j);
