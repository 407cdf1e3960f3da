// Overloaded{lambdas...}: one visitor for std::visit out of one lambda per alternative.
#pragma once

namespace heca {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};

}  // namespace heca
