// The firmware tables' little-endian helpers are kernel/base's, shared with the wire code.
#pragma once

#include "kernel/base/le_bytes.h"

namespace heca::firmware {

using heca::append_le;
using heca::get_le;
using heca::put_ascii;
using heca::put_le;

}  // namespace heca::firmware
