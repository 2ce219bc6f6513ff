// The libpng and libjpeg plumbing the image fixture generators share
// (fixtures.cc, fixtures_media.cc): a write struct that frees itself, output
// into a std::string, and a libjpeg error handler that longjmps out (no
// non-trivial object may live between the setjmp and the libjpeg calls).
#pragma once

#include <jpeglib.h>
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <string>

namespace ferry::test::image_codecs {

struct PngWriter {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngWriter() { png_destroy_write_struct(&png, &info); }
};

inline void png_append(png_structp png, png_bytep data, png_size_t length) {
  static_cast<std::string*>(png_get_io_ptr(png))->append(reinterpret_cast<const char*>(data), length);
}

inline void png_no_flush(png_structp) {}

struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
};

inline void jpeg_fail(j_common_ptr cinfo) { std::longjmp(reinterpret_cast<JpegError*>(cinfo->err)->jump, 1); }

}  // namespace ferry::test::image_codecs
