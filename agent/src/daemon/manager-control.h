/* SPDX-License-Identifier: MIT */
#pragma once

#include "control.h"

/* What agentctl can ask: status, refresh, rollback, check, drain, resume. */
extern const ControlCommand manager_control_commands[];
