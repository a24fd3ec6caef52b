// Application callbacks around a self-checkpoint (BLCR's libcr model):
// before-checkpoint (a non-zero return cancels), after-continue, after-restart.
#pragma once

#include <kcr/kcr.h>

#include <kcr/status.h>

namespace kcr {

int RegisterCallback(unsigned events, kcr_callback_fn fn, void* arg);
bool UnregisterCallback(int id);
// Runs callbacks registered for `event` in registration order (reverse order
// for the after-events, so setup and teardown nest).
Status RunCallbacks(kcr_event event);

}  // namespace kcr
