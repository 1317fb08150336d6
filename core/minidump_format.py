"""Windows minidump layouts (minidumpapiset.h) and their constants: construct structs for
the headers read once, ``struct`` records for the entries of lists.

Definitions only: ``core.minidump`` does the reading. Every structure is little-endian and
packed to 4 bytes, so 64-bit fields may sit at offsets that are not multiples of 8.
Sizes that matter are asserted below (MINIDUMP_MODULE is 108 bytes, CONTEXT_AMD64 1232).
"""

from __future__ import annotations

import struct
from collections import namedtuple

from construct import (Array, Bytes, Int8ul, Int16ul, Int32ul, Int64ul, Padding, Struct)

SIGNATURE = b"MDMP"
VERSION = 0xA793  # low 16 bits of Header.Version; the high ones are the writer's
HEADER_SIZE = 32
DIRECTORY_ENTRY_SIZE = 12

# MINIDUMP_STREAM_TYPE
STREAM_UNUSED = 0
STREAM_RESERVED0 = 1
STREAM_RESERVED1 = 2
STREAM_THREAD_LIST = 3
STREAM_MODULE_LIST = 4
STREAM_MEMORY_LIST = 5
STREAM_EXCEPTION = 6
STREAM_SYSTEM_INFO = 7
STREAM_THREAD_EX_LIST = 8
STREAM_MEMORY64_LIST = 9
STREAM_COMMENT_A = 10
STREAM_COMMENT_W = 11
STREAM_HANDLE_DATA = 12
STREAM_FUNCTION_TABLE = 13
STREAM_UNLOADED_MODULE_LIST = 14
STREAM_MISC_INFO = 15
STREAM_MEMORY_INFO_LIST = 16
STREAM_THREAD_INFO_LIST = 17
STREAM_HANDLE_OPERATION_LIST = 18
STREAM_TOKEN = 19
STREAM_JAVASCRIPT_DATA = 20
STREAM_SYSTEM_MEMORY_INFO = 21
STREAM_PROCESS_VM_COUNTERS = 22
STREAM_IPT_TRACE = 23
STREAM_THREAD_NAMES = 24
STREAM_WINE_PRIVATE = 0xFFF0  # written by wine's dbghelp (flags 0x1826), content private

STREAM_NAMES = {
    STREAM_UNUSED: "Unused", STREAM_RESERVED0: "Reserved0", STREAM_RESERVED1: "Reserved1",
    STREAM_THREAD_LIST: "ThreadList", STREAM_MODULE_LIST: "ModuleList",
    STREAM_MEMORY_LIST: "MemoryList", STREAM_EXCEPTION: "Exception",
    STREAM_SYSTEM_INFO: "SystemInfo", STREAM_THREAD_EX_LIST: "ThreadExList",
    STREAM_MEMORY64_LIST: "Memory64List", STREAM_COMMENT_A: "CommentA",
    STREAM_COMMENT_W: "CommentW", STREAM_HANDLE_DATA: "HandleData",
    STREAM_FUNCTION_TABLE: "FunctionTable", STREAM_UNLOADED_MODULE_LIST: "UnloadedModuleList",
    STREAM_MISC_INFO: "MiscInfo", STREAM_MEMORY_INFO_LIST: "MemoryInfoList",
    STREAM_THREAD_INFO_LIST: "ThreadInfoList", STREAM_HANDLE_OPERATION_LIST: "HandleOperationList",
    STREAM_TOKEN: "Token", STREAM_JAVASCRIPT_DATA: "JavaScriptData",
    STREAM_SYSTEM_MEMORY_INFO: "SystemMemoryInfo", STREAM_PROCESS_VM_COUNTERS: "ProcessVmCounters",
    STREAM_IPT_TRACE: "IptTrace", STREAM_THREAD_NAMES: "ThreadNames",
    STREAM_WINE_PRIVATE: "WinePrivate",
}

# MINIDUMP_TYPE, stored in Header.Flags
DUMP_WITH_DATA_SEGS = 0x1
DUMP_WITH_FULL_MEMORY = 0x2
DUMP_WITH_HANDLE_DATA = 0x4
DUMP_WITH_UNLOADED_MODULES = 0x20
DUMP_WITH_PRIVATE_READ_WRITE_MEMORY = 0x200
DUMP_WITH_FULL_MEMORY_INFO = 0x800
DUMP_WITH_THREAD_INFO = 0x1000

# SystemInfo.ProcessorArchitecture
ARCH_X86 = 0
ARCH_ARM = 5
ARCH_IA64 = 6
ARCH_AMD64 = 9
ARCH_ARM64 = 12
ARCH_NAMES = {ARCH_X86: "386", ARCH_ARM: "arm", ARCH_IA64: "ia64", ARCH_AMD64: "amd64",
              ARCH_ARM64: "arm64"}

# MINIDUMP_MISC_INFO.Flags1
MISC1_PROCESS_ID = 0x1
MISC1_PROCESS_TIMES = 0x2

# MINIDUMP_MEMORY_INFO.State / .Protect / .Type
MEM_COMMIT = 0x1000
MEM_RESERVE = 0x2000
MEM_FREE = 0x10000
MEM_IMAGE = 0x1000000
MEM_MAPPED = 0x40000
MEM_PRIVATE = 0x20000
PAGE_NOACCESS = 0x01
PAGE_GUARD = 0x100
PAGE_PERMS = {  # low byte of Protect -> "rwx"
    0x01: "---", 0x02: "r--", 0x04: "rw-", 0x08: "rw-",
    0x10: "--x", 0x20: "r-x", 0x40: "rwx", 0x80: "rwx",
}

# CONTEXT_AMD64.ContextFlags
CONTEXT_AMD64 = 0x00100000
CONTEXT_CONTROL = 0x1
CONTEXT_INTEGER = 0x2

# Exception codes worth naming (ntstatus.h)
EXCEPTION_NAMES = {
    0x80000003: "EXCEPTION_BREAKPOINT",
    0xC0000005: "EXCEPTION_ACCESS_VIOLATION",
    0xC000001D: "EXCEPTION_ILLEGAL_INSTRUCTION",
    0xC0000094: "EXCEPTION_INT_DIVIDE_BY_ZERO",
    0xC00000FD: "EXCEPTION_STACK_OVERFLOW",
    0xC0000409: "STATUS_STACK_BUFFER_OVERRUN",
    0xC0000602: "STATUS_FAIL_FAST_EXCEPTION",
    0xE06D7363: "C++ exception",
}

Header = Struct(
    "signature" / Bytes(4),
    "version" / Int32ul,
    "number_of_streams" / Int32ul,
    "stream_directory_rva" / Int32ul,
    "checksum" / Int32ul,
    "time_date_stamp" / Int32ul,
    "flags" / Int64ul,
)

LocationDescriptor = Struct("data_size" / Int32ul, "rva" / Int32ul)

Directory = Struct("stream_type" / Int32ul, "location" / LocationDescriptor)
# The same as a struct format, to unpack a whole directory in one call.
DIRECTORY_ENTRY = struct.Struct("<III")  # StreamType, DataSize, Rva

MemoryDescriptor64 = Struct("start" / Int64ul, "data_size" / Int64ul)

SystemInfo = Struct(
    "processor_architecture" / Int16ul,
    "processor_level" / Int16ul,
    "processor_revision" / Int16ul,
    "number_of_processors" / Int8ul,
    "product_type" / Int8ul,
    "major_version" / Int32ul,
    "minor_version" / Int32ul,
    "build_number" / Int32ul,
    "platform_id" / Int32ul,
    "csd_version_rva" / Int32ul,
    "suite_mask" / Int16ul,
    "reserved2" / Int16ul,
    "cpu" / Bytes(24),
)


# --- list entries, as ``struct`` formats -------------------------------------------------
# A list may hold as many entries as its stream's bytes allow. These are unpacked with
# ``struct`` (about a microsecond each, where a construct parse costs a hundred) into named
# tuples, so a corrupt count bounded only by the file still reads in seconds.

class Record:
    """A fixed-size little-endian record: a struct format and the names of its fields."""

    def __init__(self, name: str, fmt: str, fields: str):
        self.struct = struct.Struct("<" + fmt)
        self.tuple = namedtuple(name, fields)
        self.size = self.struct.size
        assert len(self.tuple._fields) == len(self.struct.unpack(bytes(self.size)))

    def unpack_from(self, buf, offset: int = 0):
        """Return the record at ``offset`` of ``buf`` as a named tuple."""
        return self.tuple._make(self.struct.unpack_from(buf, offset))


# MINIDUMP_MEMORY_DESCRIPTOR: StartOfMemoryRange, then a MINIDUMP_LOCATION_DESCRIPTOR.
MemoryDescriptor = Record("MemoryDescriptor", "QII", "start data_size rva")

# MINIDUMP_THREAD: the stack is a MEMORY_DESCRIPTOR, the context a LOCATION_DESCRIPTOR.
Thread = Record("Thread", "IIIIQQIIII",
                "thread_id suspend_count priority_class priority teb "
                "stack_start stack_size stack_rva context_size context_rva")
ThreadEx = Record("ThreadEx", "IIIIQQIIIIQII",
                  "thread_id suspend_count priority_class priority teb "
                  "stack_start stack_size stack_rva context_size context_rva "
                  "backing_start backing_size backing_rva")

# CONTEXT for x64 (winnt.h), its first 256 bytes up to Rip: P1Home..P6Home, ContextFlags,
# MxCsr, SegCs..SegSs, EFlags, Dr0-3/Dr6/Dr7, then the general registers in this order.
# The XMM save area and vector registers follow; DataSize may exceed 1232 (XSTATE).
ContextAmd64 = Record("ContextAmd64", "48xII6HI48x17Q",
                      "context_flags mx_csr seg_cs seg_ds seg_es seg_fs seg_gs seg_ss eflags "
                      "rax rcx rdx rbx rsp rbp rsi rdi r8 r9 r10 r11 r12 r13 r14 r15 rip")
CONTEXT_AMD64_SIZE = 1232
CONTEXT_AMD64_REGS = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10",
                      "r11", "r12", "r13", "r14", "r15", "rip")

# MINIDUMP_MODULE (108 bytes); its VS_FIXEDFILEINFO (13 u32s) is skipped; CvRecord and
# MiscRecord are LOCATION_DESCRIPTORs.
Module = Record("Module", "QIIII52xIIIIQQ",
                "base_of_image size_of_image checksum time_date_stamp module_name_rva "
                "cv_size cv_rva misc_size misc_rva reserved0 reserved1")

# MINIDUMP_STRING: Length (bytes, without the terminator) then UTF-16LE.
STRING_LENGTH = Int32ul

CV_SIGNATURE_RSDS = b"RSDS"  # PDB 7.0: GUID, age, file name
CV_SIGNATURE_NB10 = b"NB10"  # PDB 2.0: offset, signature, age, file name
CvRsds = Struct("signature" / Bytes(4), "guid" / Bytes(16), "age" / Int32ul)
CvNb10 = Struct("signature" / Bytes(4), "offset" / Int32ul, "timestamp" / Int32ul, "age" / Int32ul)

Memory64ListHeader = Struct("number_of_ranges" / Int64ul, "base_rva" / Int64ul)

MemoryInfoListHeader = Struct(
    "size_of_header" / Int32ul,
    "size_of_entry" / Int32ul,
    "number_of_entries" / Int64ul,
)

# MINIDUMP_MEMORY_INFO (48 bytes).
MemoryInfo = Record("MemoryInfo", "QQI4xQIII4x",
                    "base_address allocation_base allocation_protect region_size state protect type")

# MINIDUMP_MISC_INFO (24 bytes); later versions (_2 .. _5) only append fields.
MiscInfo = Struct(
    "size_of_info" / Int32ul,
    "flags1" / Int32ul,
    "process_id" / Int32ul,
    "process_create_time" / Int32ul,
    "process_user_time" / Int32ul,
    "process_kernel_time" / Int32ul,
)

ExceptionRecord = Struct(
    "exception_code" / Int32ul,
    "exception_flags" / Int32ul,
    "exception_record" / Int64ul,
    "exception_address" / Int64ul,
    "number_parameters" / Int32ul,
    Padding(4),
    "exception_information" / Array(15, Int64ul),
)

ExceptionStream = Struct(
    "thread_id" / Int32ul,
    Padding(4),
    "exception_record" / ExceptionRecord,
    "thread_context" / LocationDescriptor,
)

assert Header.sizeof() == HEADER_SIZE
assert Directory.sizeof() == DIRECTORY_ENTRY_SIZE == DIRECTORY_ENTRY.size
assert SystemInfo.sizeof() == 56
assert MemoryDescriptor.size == 16
assert Thread.size == 48
assert ThreadEx.size == 64
assert ContextAmd64.size == 256 <= CONTEXT_AMD64_SIZE
assert Module.size == 108
assert MemoryInfo.size == 48
assert ExceptionStream.sizeof() == 168
