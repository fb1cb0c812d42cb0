#pragma once
// OpenBLAS's CBLAS interface plus its runtime controls (thread count, core name, version).
#include <cblas.h>
