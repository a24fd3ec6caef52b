// KCR_EXPORT marks what libkcr.so exports: its C and C++ APIs. The library
// is built with hidden visibility, so nothing else of it is reachable.
#pragma once

#define KCR_EXPORT __attribute__((visibility("default")))
