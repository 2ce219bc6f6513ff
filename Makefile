# A thin wrapper: the real build is CMake + Ninja (CMakeLists.txt).
BUILD      := build
ASAN_BUILD := build-asan
CMAKE_GEN  := -G Ninja

.PHONY: all deps build build-asan test unit-asan run bench clean

all: build

deps:
	@scripts/install-deps

build: deps
	cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD)

# Only what the unit tests need (they are all the sanitizer run runs).
build-asan: deps
	cmake -S . -B $(ASAN_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DFERRY_SANITIZE=ON -DFERRY_BENCH=OFF
	cmake --build $(ASAN_BUILD) --target ferry-unit-tests

# Every test in the normal build, then the unit tests again under ASan+UBSan.
# Two at a time where tests are independent; the integration tests (real
# daemons, timing) one at a time.
test: build build-asan
	ctest --test-dir $(BUILD) --output-on-failure -LE integration -j2
	ctest --test-dir $(BUILD) --output-on-failure -L integration
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) -L unit --output-on-failure -j2

run: build
	@scripts/run-demo $(BUILD)

# Both tables are printed even if the first one misses a bar; the exit
# status says whether every bar was met.
bench: build
	@status=0; $(BUILD)/bin/ferry-bench || status=1; echo; $(BUILD)/bin/ferry-e2e-bench || status=1; \
	  echo; $(BUILD)/bin/ferry-keyword-bench || status=1; echo; $(BUILD)/bin/ferry-inspect-bench || status=1; \
	  echo; $(BUILD)/bin/ferry-disarm-bench || status=1; echo; $(BUILD)/bin/ferry-audit-bench || status=1; \
	  echo; $(BUILD)/bin/ferry-audit-query-bench || status=1; exit $$status

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
