# The project's own targets build with the strict warning set; dependencies do not.
function(heca_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Werror -Wshadow -Wconversion -Wsign-conversion
    -Wold-style-cast -Wnon-virtual-dtor -Woverloaded-virtual
    -Wno-missing-field-initializers)
endfunction()

# A GoogleTest executable with the project's warnings, registered with ctest.
#   heca_test(NAME SOURCES... [KVM FILTER])
# KVM names, as a --gtest_filter, the tests of NAME that need /dev/kvm. ctest runs them as one
# test, kvm/NAME, through tests/vcluster/kvm-run: on this machine's KVM where it can be opened,
# else on a virtual host of the virtual cluster, so that they run (and may fail) everywhere,
# CI included, instead of skipping. FILTER "*" means the whole program.
function(heca_test name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "KVM" "")
  add_executable(${name} ${arg_UNPARSED_ARGUMENTS})
  heca_warnings(${name})
  target_link_libraries(${name} PRIVATE GTest::gtest GTest::gtest_main)
  # A GTEST_SKIP shows as "Skipped" in ctest's summary instead of hiding among the passes.
  if(NOT arg_KVM)
    gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
      PROPERTIES SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]")
    return()
  endif()
  if(NOT arg_KVM STREQUAL "*")
    gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 TEST_FILTER "-${arg_KVM}"
      PROPERTIES SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]")
  endif()
  add_test(NAME kvm/${name}
    COMMAND ${PROJECT_SOURCE_DIR}/tests/vcluster/kvm-run $<TARGET_FILE:${name}>
            --gtest_filter=${arg_KVM})
  # A virtual host boots in about 20 s and runs nested KVM slowly; "kvm" selects the tier
  # (ctest -L kvm). The virtual hosts take both cores, so the tier runs alone.
  set_tests_properties(kvm/${name} PROPERTIES TIMEOUT 2400 LABELS kvm RUN_SERIAL TRUE
    FAIL_REGULAR_EXPRESSION "\\[  SKIPPED \\]|\\[  FAILED  \\]")
endfunction()
