// ASB_CHECK: broken internal invariants abort. Never use on user input.
#pragma once

#include <cstdio>
#include <cstdlib>

#define ASB_CHECK(cond, msg)                                                                      \
  do {                                                                                            \
    if (!(cond)) {                                                                                \
      std::fprintf(stderr, "FATAL %s:%d check failed: %s: %s\n", __FILE__, __LINE__, #cond, msg); \
      std::abort();                                                                               \
    }                                                                                             \
  } while (0)
