// Taking a queued signal back: the one loop the restores share when they
// remove what they queued (or caused) before the program's own signals.
#pragma once

#include <signal.h>
#include <time.h>

namespace kcr {

// Takes back every instance of `signo`, blocked and queued on the calling
// thread or its process, without waiting.
inline void DrainSignal(int signo) {
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, signo);
  const timespec now{};
  while (::sigtimedwait(&one, nullptr, &now) == signo) {
  }
}

}  // namespace kcr
