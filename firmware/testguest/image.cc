#include "firmware/testguest/image.h"

extern "C" {
extern const std::uint8_t heca_testguest_image_begin[];
extern const std::uint8_t heca_testguest_image_end[];
}

namespace heca::firmware {

std::span<const std::uint8_t> test_guest_image() {
  return {heca_testguest_image_begin, heca_testguest_image_end};
}

}  // namespace heca::firmware
