#include "io-aggregation/cmos_rtc.h"

#include <optional>
#include <utility>

#include "kernel/base/check.h"

namespace heca::io {
namespace {

constexpr std::uint64_t kIndexOffset = 0;
constexpr std::uint64_t kDataOffset = 1;
constexpr std::uint8_t kIndexMask = 0x7f;      // bit 7 is the PC's NMI mask, not ours
constexpr std::uint8_t kIndexPortRead = 0xff;  // the index port is write-only
constexpr std::uint8_t kRegADefault = 0x26;    // 32.768 kHz time base, 1024 Hz rate
constexpr std::uint8_t kRegAWritable = 0x7f;   // everything but UIP

// The calendar fields of one instant, all small enough for one CMOS byte.
struct CivilTime {
  unsigned second = 0;
  unsigned minute = 0;
  unsigned hour = 0;
  unsigned weekday = 0;  // 1 = Sunday
  unsigned day = 0;
  unsigned month = 0;
  unsigned year = 0;  // within the century
  unsigned century = 0;
};

CivilTime civil_time(std::chrono::system_clock::time_point now) {
  using namespace std::chrono;
  const auto day = floor<days>(now);
  const year_month_day ymd{day};
  const hh_mm_ss hms{floor<seconds>(now - day)};
  // Host clocks are after 1970; a year before 0 would need a sign CMOS cannot show.
  const int y = static_cast<int>(ymd.year());
  const unsigned full_year = y < 0 ? 0u : static_cast<unsigned>(y);
  return {.second = static_cast<unsigned>(hms.seconds().count()),
          .minute = static_cast<unsigned>(hms.minutes().count()),
          .hour = static_cast<unsigned>(hms.hours().count()),
          .weekday = weekday{day}.c_encoding() + 1,
          .day = static_cast<unsigned>(ymd.day()),
          .month = static_cast<unsigned>(ymd.month()),
          .year = full_year % 100,
          .century = (full_year / 100) % 100};
}

bool is_clock_register(std::uint8_t reg) {
  switch (reg) {
    case CmosRtc::kSeconds:
    case CmosRtc::kMinutes:
    case CmosRtc::kHours:
    case CmosRtc::kDayOfWeek:
    case CmosRtc::kDayOfMonth:
    case CmosRtc::kMonth:
    case CmosRtc::kYear:
    case CmosRtc::kCentury:
      return true;
    default:
      return false;
  }
}

std::uint8_t to_bcd(unsigned value) {
  return static_cast<std::uint8_t>(((value / 10) << 4) | (value % 10));
}

}  // namespace

CmosRtc::CmosRtc() : CmosRtc([] { return std::chrono::system_clock::now(); }) {}

CmosRtc::CmosRtc(WallClock clock) : clock_(std::move(clock)) {
  HECA_CHECK(clock_);
  ram_[kRegA] = kRegADefault;
  ram_[kRegB] = kRegB24Hour;
}

std::uint8_t CmosRtc::encode(unsigned value) const {
  if ((ram_[kRegB] & kRegBBinary) != 0) return static_cast<std::uint8_t>(value);
  return to_bcd(value);
}

std::uint8_t CmosRtc::encode_hour(unsigned hour) const {
  if ((ram_[kRegB] & kRegB24Hour) != 0) return encode(hour);
  const unsigned twelve = hour % 12 == 0 ? 12 : hour % 12;
  const std::uint8_t pm = hour >= 12 ? kHourPm : 0;
  return static_cast<std::uint8_t>(encode(twelve) | pm);
}

std::optional<std::uint8_t> CmosRtc::clock_register(
    std::uint8_t reg, std::chrono::system_clock::time_point now) const {
  const CivilTime t = civil_time(now);
  switch (reg) {
    case kSeconds:
      return encode(t.second);
    case kMinutes:
      return encode(t.minute);
    case kHours:
      return encode_hour(t.hour);
    case kDayOfWeek:
      return encode(t.weekday);
    case kDayOfMonth:
      return encode(t.day);
    case kMonth:
      return encode(t.month);
    case kYear:
      return encode(t.year);
    case kCentury:
      return encode(t.century);
    default:
      return std::nullopt;
  }
}

std::uint8_t CmosRtc::read_data(std::chrono::system_clock::time_point now) const {
  if (auto value = clock_register(index_, now)) return *value;
  switch (index_) {
    case kRegA:
      return static_cast<std::uint8_t>(ram_[kRegA] & ~kRegAUpdateInProgress);
    case kRegC:
      return 0;
    case kRegD:
      return kRegDValidRam;
    default:
      return ram_[index_];
  }
}

void CmosRtc::write_data(std::uint8_t value) {
  if (is_clock_register(index_)) return;  // the clock follows the host
  switch (index_) {
    case kRegA:
      ram_[kRegA] = value & kRegAWritable;
      return;
    case kRegC:
    case kRegD:
      return;  // read-only
    default:
      ram_[index_] = value;
      return;
  }
}

void CmosRtc::read(std::uint64_t offset, std::span<std::uint8_t> data) {
  const auto now = clock_();
  std::lock_guard lock(mu_);
  for (std::size_t i = 0; i < data.size(); ++i) {
    data[i] = offset + i == kDataOffset ? read_data(now) : kIndexPortRead;
  }
}

void CmosRtc::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  std::lock_guard lock(mu_);
  for (std::size_t i = 0; i < data.size(); ++i) {
    if (offset + i == kIndexOffset) {
      index_ = data[i] & kIndexMask;
    } else if (offset + i == kDataOffset) {
      write_data(data[i]);
    }
  }
}

}  // namespace heca::io
