#include "firmware/ap_wakeup.h"

#include <algorithm>
#include <span>

#include "firmware/le_bytes.h"
#include "firmware/long_mode.h"

namespace heca::firmware {
namespace {

// The page tables are one contiguous identity map (build_identity_page_tables' layout).
static_assert(ApWakeupLayout::kPdpt == ApWakeupLayout::kPml4 + kPageSize);
static_assert(ApWakeupLayout::kPd == ApWakeupLayout::kPdpt + kPageSize);
constexpr std::uint8_t kInt3 = 0xCC;  // padding: a stray jump traps instead of running on

constexpr std::size_t offset_of(std::uint64_t gpa) {
  return gpa - kApWakeupBase;
}

static_assert(ApWakeupLayout::kMailbox <= UINT32_MAX);  // the park loop loads it as imm32

// INVARIANT: the AP reads apic_id before command. Once it has read its own id, the mailbox
// stays addressed to it until it acknowledges (the OS only rewrites apic_id after seeing
// command == 0, and only the addressed AP clears command), so a command of 1 read afterwards
// belongs to the same request and the vector read after it is that request's vector.
// Reading command first could pair a previous request's command with this one's id and vector.
void append_park_loop(std::vector<std::uint8_t>& code) {
  const auto mailbox = static_cast<std::uint32_t>(ApWakeupLayout::kMailbox);
  code.push_back(0xBE);  // 00: mov esi, imm32        ; RSI = mailbox (zero-extended)
  append_le<std::uint32_t>(code, mailbox);
  const std::vector<std::uint8_t> loop = {
      0x3B, 0x5E, 0x04,              // 05: cmp ebx, [rsi+4]       ; addressed to this AP?
      0x75, 0x18,                    // 08: jne wait (22)
      0x66, 0x83, 0x3E, 0x01,        // 0a: cmp word [rsi], 1      ; command == wakeup?
      0x75, 0x12,                    // 0e: jne wait (22)
      0x89, 0xD8,                    // 10: mov eax, ebx
      0x66, 0xBA,                    // 12: mov dx, kApAwakePort
  };
  code.insert(code.end(), loop.begin(), loop.end());
  append_le<std::uint16_t>(code, kApAwakePort);
  const std::vector<std::uint8_t> leave = {
      0xEF,                          // 16: out dx, eax            ; tell the VMM: awake
      0x48, 0x8B, 0x46, 0x08,        // 17: mov rax, [rsi+8]       ; wakeup vector
      0x66, 0xC7, 0x06, 0x00, 0x00,  // 1b: mov word [rsi], 0      ; acknowledge
      0xFF, 0xE0,                    // 20: jmp rax
      0xF4,                          // 22: wait: hlt              ; until the VMM rouses it
      0xEB, 0xE0,                    // 23: jmp 05
  };
  code.insert(code.end(), leave.begin(), leave.end());
}

}  // namespace

std::vector<std::uint8_t> build_ap_park_code() {
  std::vector<std::uint8_t> code;
  append_park_loop(code);
  return code;
}

std::vector<std::uint8_t> build_ap_wakeup_region() {
  std::vector<std::uint8_t> region(kApWakeupSize, 0);
  put_le<std::uint32_t>(region, offset_of(ApWakeupLayout::kMailbox) + kMailboxApicId,
                        kMailboxNoApic);

  const std::span<std::uint8_t> code_page =
      std::span(region).subspan(offset_of(ApWakeupLayout::kParkCode), kPageSize);
  std::ranges::fill(code_page, kInt3);
  const auto code = build_ap_park_code();
  std::ranges::copy(code, code_page.begin());

  const auto gdt = build_boot_gdt();
  for (std::size_t i = 0; i < gdt.size(); ++i) {
    put_le<std::uint64_t>(region, offset_of(ApWakeupLayout::kGdt) + i * 8, gdt[i]);
  }
  const auto tables = build_identity_page_tables(ApWakeupLayout::kPml4, /*user=*/false);
  std::ranges::copy(tables, region.begin() + static_cast<std::ptrdiff_t>(offset_of(ApWakeupLayout::kPml4)));
  return region;
}

}  // namespace heca::firmware
