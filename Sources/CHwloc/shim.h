#pragma once
#include <hwloc.h>
