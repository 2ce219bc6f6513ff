// Generators for the [disarm] tests of images and PDF: files carrying each
// kind of active content and metadata the rebuilds remove, and the bombs
// they refuse. Built in memory (no opaque binaries): the PDFs by writing
// objects and the cross-reference table by hand, the images with libpng
// and libjpeg and, for what those libraries will not write, by splicing
// segments and chunks into their output. The plain documents come from
// fixtures.h (make_pdf, make_png, make_jpeg).
//
// Test helpers: a failure is a bug in the test and throws std::runtime_error.
#pragma once

#include <string>
#include <vector>

namespace ferry::test {

// Two pages ("Quarterly report" and "Second page", Helvetica) with every
// kind of active content [disarm] removes, one of each:
//   catalog: /OpenAction JavaScript, /AA (WC) JavaScript, /Names /JavaScript
//            'init', /Names /EmbeddedFiles 'payload.exe', /AcroForm /XFA;
//   page 1:  /AA (O) JavaScript; a Link annotation with a Launch action
//            (calc.exe); a RichMedia annotation; a FileAttachment annotation
//            (payload.exe); a Widget (form field 'Send') whose /A is
//            SubmitForm to http://evil.example/collect;
//   page 2:  a Link annotation with a URI action (https) whose /Next is
//            JavaScript; a Link annotation with a GoTo action (kept);
//   outline: one item 'Start' whose /A is JavaScript.
std::string make_active_pdf();
// The strings make_active_pdf hides in its active parts; none may be in a
// rebuilt file (the embedded file's content, the scripts, the XFA).
std::vector<std::string> active_pdf_payloads();

// One page ("Links") with one Link annotation per URI, each a URI action.
std::string make_pdf_with_links(const std::vector<std::string>& uris);

// make_pdf of the texts followed by a zip holding "readme.txt": a file that
// is a PDF to a PDF reader and a zip to an unzipper.
std::string make_pdf_zip_polyglot(const std::vector<std::string>& page_texts);

// make_pdf of the texts, encrypted (AES-256, R6) with an empty user
// password and the owner password "owner": opens without a password.
std::string make_pdf_open_encrypted(const std::vector<std::string>& page_texts);

// The TIFF structure of an Exif block (CIPA DC-008), little-endian: IFD0
// with Make "FerryCam" and a GPSInfo IFD pointer (tag 0x8825); the GPS IFD
// holds GPSLatitudeRef N, GPSLatitude 39/54/24.00, GPSLongitudeRef E,
// GPSLongitude 116/23/42.00.
std::string exif_tiff_with_gps();

// make_jpeg(width, height) with, after its JFIF APP0, in this order:
// APP1 Exif (exif_tiff_with_gps), APP1 XMP, APP2 ICC profile, APP13
// Photoshop IRB, COM "shot by agent 7".
std::string make_jpeg_with_metadata(unsigned width, unsigned height);
// A baseline JPEG whose SOF0 declares width x height while its scan holds
// the 16x16 pixels it was encoded with: a bomb by its header.
std::string make_jpeg_declaring(unsigned width, unsigned height);
// A progressive RGB JPEG with a gradient. every_scan: the longest scan
// script libjpeg accepts (each component, each coefficient, every bit of
// successive approximation: 3 x 64 x 11 = 2112 scans), the shape of a
// progressive-JPEG CPU exhaustion; otherwise jpeg_simple_progression's.
std::string make_progressive_jpeg(unsigned width, unsigned height, bool every_scan);
// A grayscale JPEG (one component) with a gradient.
std::string make_gray_jpeg(unsigned width, unsigned height);
// A CMYK JPEG (four components, Adobe APP14 marker) with a gradient.
std::string make_cmyk_jpeg(unsigned width, unsigned height);

// An RGBA 8-bit PNG with a gradient and a varying alpha; metadata adds,
// before the IDAT: tEXt 'Comment', zTXt 'Description', iTXt
// 'XML:com.adobe.xmp' (XMP), eXIf (exif_tiff_with_gps), tIME, and a private
// ancillary chunk 'prVt'.
std::string make_rgba_png(unsigned width, unsigned height, bool metadata);
// A PNG whose IHDR declares width x height (8-bit RGB) followed by one tiny
// IDAT: a decompression bomb by its header.
std::string make_png_declaring(unsigned width, unsigned height);
// A 16-bit grayscale PNG with a gradient.
std::string make_gray16_png(unsigned width, unsigned height);
// An APNG: make_png's image with acTL, fcTL and fdAT chunks (two frames).
std::string make_apng(unsigned width, unsigned height);

}  // namespace ferry::test
