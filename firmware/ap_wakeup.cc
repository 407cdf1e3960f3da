#include "firmware/ap_wakeup.h"

#include <algorithm>
#include <span>

#include "firmware/le_bytes.h"
#include "firmware/long_mode.h"

namespace heca::firmware {
namespace {

constexpr std::uint64_t kPresent = 1u << 0;
constexpr std::uint64_t kWritable = 1u << 1;
constexpr std::uint64_t kLargePage = 1u << 7;
constexpr std::uint64_t kLargePageSize = 2u << 20;
constexpr std::size_t kPageDirectories = 4;
constexpr std::size_t kEntriesPerTable = kPageSize / sizeof(std::uint64_t);
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

void put_page_tables(std::span<std::uint8_t> region) {
  constexpr std::uint64_t kTable = kPresent | kWritable;
  put_le<std::uint64_t>(region, offset_of(ApWakeupLayout::kPml4), ApWakeupLayout::kPdpt | kTable);
  for (std::size_t i = 0; i < kPageDirectories; ++i) {
    put_le<std::uint64_t>(region, offset_of(ApWakeupLayout::kPdpt) + i * 8,
                          (ApWakeupLayout::kPd + i * kPageSize) | kTable);
  }
  for (std::size_t i = 0; i < kPageDirectories * kEntriesPerTable; ++i) {
    put_le<std::uint64_t>(region, offset_of(ApWakeupLayout::kPd) + i * 8,
                          (i * kLargePageSize) | kTable | kLargePage);
  }
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
  put_page_tables(region);
  return region;
}

}  // namespace heca::firmware
