# Included from coherence/CMakeLists.txt: the event loop, the transports and their tests.
target_sources(heca_coherence PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/event_loop.cc
  ${CMAKE_CURRENT_LIST_DIR}/tcp_peer.cc
  ${CMAKE_CURRENT_LIST_DIR}/tcp_transport.cc
  ${CMAKE_CURRENT_LIST_DIR}/fault_injection_transport.cc)

heca_test(transport_event_loop_test ${CMAKE_CURRENT_LIST_DIR}/tests/transport_event_loop_test.cc)
target_link_libraries(transport_event_loop_test PRIVATE heca_coherence)

heca_test(transport_tcp_test ${CMAKE_CURRENT_LIST_DIR}/tests/transport_tcp_test.cc)
target_link_libraries(transport_tcp_test PRIVATE heca_coherence)

heca_test(transport_fault_injection_test ${CMAKE_CURRENT_LIST_DIR}/tests/transport_fault_injection_test.cc)
target_link_libraries(transport_fault_injection_test PRIVATE heca_coherence)

# Runs as one node inside a network namespace, spawned by transport_netns_test.
add_executable(transport_netns_node ${CMAKE_CURRENT_LIST_DIR}/tests/transport_netns_node.cc)
heca_warnings(transport_netns_node)
target_link_libraries(transport_netns_node PRIVATE heca_coherence)

heca_test(transport_netns_test ${CMAKE_CURRENT_LIST_DIR}/tests/transport_netns_test.cc)
add_dependencies(transport_netns_test transport_netns_node)
target_compile_definitions(transport_netns_test PRIVATE
  HECA_SOURCE_DIR="${CMAKE_CURRENT_LIST_DIR}/.."
  HECA_NETNS_NODE="$<TARGET_FILE:transport_netns_node>")
