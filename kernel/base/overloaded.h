// Overloaded{lambdas...}: one visitor for std::visit out of one lambda per alternative.
#pragma once

namespace heca {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
// GCC deduces this by itself (aggregate deduction, P1816); clang 16 (tests/fuzz) needs it said.
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

}  // namespace heca
