#include "callbacks.h"
#include <kcr/util/status_format.h>

#include <algorithm>
#include <mutex>
#include <vector>

namespace kcr {

namespace {

struct Callback {
  int id;
  unsigned events;
  kcr_callback_fn fn;
  void* arg;
};

std::mutex g_mutex;
std::vector<Callback> g_callbacks;
int g_next_id = 0;

}  // namespace

int RegisterCallback(unsigned events, kcr_callback_fn fn, void* arg) {
  std::lock_guard lock(g_mutex);
  g_callbacks.push_back({g_next_id, events, fn, arg});
  return g_next_id++;
}

bool UnregisterCallback(int id) {
  std::lock_guard lock(g_mutex);
  auto it = std::find_if(g_callbacks.begin(), g_callbacks.end(),
                         [id](const Callback& c) { return c.id == id; });
  if (it == g_callbacks.end())
    return false;
  g_callbacks.erase(it);
  return true;
}

Status RunCallbacks(kcr_event event) {
  std::vector<Callback> todo;
  {
    std::lock_guard lock(g_mutex);
    for (const Callback& c : g_callbacks)
      if (c.events & event)
        todo.push_back(c);
  }
  if (event != KCR_EVENT_BEFORE_CHECKPOINT)
    std::reverse(todo.begin(), todo.end());
  for (const Callback& c : todo) {
    int rc = c.fn(event, c.arg);
    if (rc != 0 && event == KCR_EVENT_BEFORE_CHECKPOINT) {
      return Errorf(ECANCELED, "checkpoint cancelled by callback {} (returned {})", c.id, rc);
    }
  }
  return Status::Ok();
}

}  // namespace kcr
