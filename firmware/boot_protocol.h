// Byte offsets and flags of the Linux x86 boot protocol: the zero page (struct boot_params)
// and the setup header inside it, per Documentation/arch/x86/boot.rst and zero-page.rst.
#pragma once

#include <cstddef>
#include <cstdint>

namespace heca::firmware::linux_boot {

// Zero page (boot_params) fields outside the setup header.
inline constexpr std::size_t kAcpiRsdpAddr = 0x070;    // u64, protocol 2.14+
inline constexpr std::size_t kExtRamdiskImage = 0x0c0; // u32, high half of ramdisk_image
inline constexpr std::size_t kExtRamdiskSize = 0x0c4;  // u32
inline constexpr std::size_t kExtCmdLinePtr = 0x0c8;   // u32, high half of cmd_line_ptr
inline constexpr std::size_t kE820Entries = 0x1e8;     // u8
inline constexpr std::size_t kE820Table = 0x2d0;       // 128 x {u64 addr, u64 size, u32 type}
inline constexpr std::size_t kE820EntrySize = 20;
inline constexpr std::size_t kE820MaxEntries = 128;

// Setup header, at the same offsets in the bzImage file and in the zero page.
inline constexpr std::size_t kSetupHeader = 0x1f1;     // first byte of the header
inline constexpr std::size_t kSetupHeaderMaxEnd = 0x290;  // edd_mbr_sig_buffer follows
inline constexpr std::size_t kSetupSects = 0x1f1;      // u8, 0 means 4
inline constexpr std::size_t kBootFlag = 0x1fe;        // u16, 0xAA55
inline constexpr std::size_t kJump = 0x200;            // u16; byte 0x201 + 0x202 = header end
inline constexpr std::size_t kHeaderMagic = 0x202;     // u32, "HdrS"
inline constexpr std::size_t kVersion = 0x206;         // u16
inline constexpr std::size_t kTypeOfLoader = 0x210;    // u8
inline constexpr std::size_t kLoadFlags = 0x211;       // u8
inline constexpr std::size_t kCode32Start = 0x214;     // u32
inline constexpr std::size_t kRamdiskImage = 0x218;    // u32
inline constexpr std::size_t kRamdiskSize = 0x21c;     // u32
inline constexpr std::size_t kHeapEndPtr = 0x224;      // u16
inline constexpr std::size_t kCmdLinePtr = 0x228;      // u32
inline constexpr std::size_t kInitrdAddrMax = 0x22c;   // u32, highest address the initrd may use
inline constexpr std::size_t kKernelAlignment = 0x230; // u32
inline constexpr std::size_t kRelocatableKernel = 0x234;  // u8
inline constexpr std::size_t kXLoadFlags = 0x236;      // u16, protocol 2.12+
inline constexpr std::size_t kCmdlineSize = 0x238;     // u32, max cmdline length without the NUL
inline constexpr std::size_t kPrefAddress = 0x258;     // u64
inline constexpr std::size_t kInitSize = 0x260;        // u32, memory the kernel needs from its load address

inline constexpr std::uint16_t kBootFlagValue = 0xAA55;
inline constexpr std::uint32_t kHeaderMagicValue = 0x53726448;  // "HdrS" read little-endian
inline constexpr std::uint16_t kMinProtocol = 0x020c;           // 2.12: xloadflags exists
inline constexpr std::size_t kSectorSize = 512;
inline constexpr std::uint8_t kDefaultSetupSects = 4;

inline constexpr std::uint8_t kTypeOfLoaderUndefined = 0xff;
inline constexpr std::uint8_t kLoadedHigh = 1u << 0;
inline constexpr std::uint8_t kCanUseHeap = 1u << 7;
inline constexpr std::uint16_t kXlfKernel64 = 1u << 0;
inline constexpr std::uint16_t kXlfCanBeLoadedAbove4g = 1u << 1;
// heap_end_ptr for a setup area of 0x10000 bytes, minus the 0x200 the protocol asks for.
inline constexpr std::uint16_t kHeapEnd = 0xfe00;
// Default initrd_addr_max of old kernels.
inline constexpr std::uint32_t kDefaultInitrdAddrMax = 0x37ffffff;
// The 64-bit entry point sits 0x200 bytes into the protected-mode kernel.
inline constexpr std::uint64_t kEntry64Offset = 0x200;

}  // namespace heca::firmware::linux_boot
