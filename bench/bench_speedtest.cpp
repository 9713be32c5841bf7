#include "bench/common.h"
namespace scrawl::bench { int runSpeedtest(const Args &) { return 1; } }
