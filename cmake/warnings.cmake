# The project's own targets build with the strict warning set; dependencies do not.
function(heca_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Werror -Wshadow -Wconversion -Wsign-conversion
    -Wold-style-cast -Wnon-virtual-dtor -Woverloaded-virtual
    -Wno-missing-field-initializers)
endfunction()

# A GoogleTest executable with the project's warnings, registered with ctest.
function(heca_test name)
  add_executable(${name} ${ARGN})
  heca_warnings(${name})
  target_link_libraries(${name} PRIVATE GTest::gtest GTest::gtest_main)
  # A GTEST_SKIP shows as "Skipped" in ctest's summary instead of hiding among the passes.
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
    PROPERTIES SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]")
endfunction()
