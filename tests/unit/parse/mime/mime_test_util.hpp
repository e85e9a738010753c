#pragma once
// Builders of small synthetic MIME messages for the MIME tests (no real patient data).

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace liaison::parse::test {

inline std::string base64Encode(std::string_view data, std::size_t line = 76,
                                std::string_view nl = "\n") {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t col = 0;
  auto put = [&](char c) {
    out.push_back(c);
    if (line != 0 && ++col == line) {
      out += nl;
      col = 0;
    }
  };
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    std::uint32_t x = (static_cast<unsigned char>(data[i]) << 16) |
                      (static_cast<unsigned char>(data[i + 1]) << 8) |
                      static_cast<unsigned char>(data[i + 2]);
    put(kAlphabet[(x >> 18) & 63]);
    put(kAlphabet[(x >> 12) & 63]);
    put(kAlphabet[(x >> 6) & 63]);
    put(kAlphabet[x & 63]);
  }
  if (std::size_t rest = data.size() - i; rest > 0) {
    std::uint32_t x = static_cast<unsigned char>(data[i]) << 16;
    if (rest == 2) x |= static_cast<unsigned char>(data[i + 1]) << 8;
    put(kAlphabet[(x >> 18) & 63]);
    put(kAlphabet[(x >> 12) & 63]);
    put(rest == 2 ? kAlphabet[(x >> 6) & 63] : '=');
    put('=');
  }
  if (col != 0) out += nl;
  return out;
}

// "\n" → "\r\n".
inline std::string crlf(std::string_view lf) {
  std::string out;
  out.reserve(lf.size() + lf.size() / 16);
  for (char c : lf) {
    if (c == '\n') out.push_back('\r');
    out.push_back(c);
  }
  return out;
}

// Header lines (without line ends), an empty line, then the body. LF line ends.
inline std::string entity(std::initializer_list<std::string_view> headers, std::string_view body) {
  std::string out;
  for (std::string_view h : headers) {
    out += h;
    out += '\n';
  }
  out += '\n';
  out += body;
  return out;
}

// The body of a multipart: each part between delimiters, then the closing delimiter.
inline std::string multipartBody(std::string_view boundary, const std::vector<std::string>& parts,
                                 bool close = true) {
  std::string out = "This is a multi-part message in MIME format.\n";
  for (const std::string& p : parts) {
    out += "--";
    out += boundary;
    out += '\n';
    out += p;
    if (out.back() != '\n') out += '\n';
  }
  if (close) {
    out += "--";
    out += boundary;
    out += "--\n";
  }
  return out;
}

// Deterministic bytes that look like the start of a file of the given kind.
inline std::string fakeFile(std::string_view magic, std::size_t size, std::uint32_t seed) {
  std::string out(magic);
  std::uint32_t x = seed * 2654435761U + 1;
  while (out.size() < size) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    out.push_back(static_cast<char>(x & 0xFF));
  }
  out.resize(size);
  return out;
}

inline std::string fakeZip(std::size_t size) {
  return fakeFile(std::string_view("PK\x03\x04\x14\x00", 6), size, 7);
}
inline std::string fakePdf(std::size_t size) {
  return fakeFile("%PDF-1.4\n%\xE2\xE3\xCF\xD3\n", size, 11);
}

// A typical MSSanté message: text body, IHE_XDM.ZIP and its PDF rendition, X-MSS-* headers.
inline std::string mssMessage(const std::string& zip, const std::string& pdf) {
  std::string text =
      entity({"Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"},
             "Bonjour,\nVeuillez trouver ci-joint le compte rendu.\nCordialement\n");
  std::string zip_part = entity(
      {"Content-Type: application/zip; name=\"IHE_XDM.ZIP\"", "Content-Transfer-Encoding: base64",
       "Content-Disposition: attachment; filename=\"IHE_XDM.ZIP\""},
      base64Encode(zip));
  std::string pdf_part =
      entity({"Content-Type: application/pdf; name=\"20240105_CR_TEST_Patient.pdf\"",
              "Content-Transfer-Encoding: base64",
              "Content-Disposition: attachment; filename=\"20240105_CR_TEST_Patient.pdf\""},
             base64Encode(pdf));
  return entity(
      {"From: \"Dr_Jean_MARTIN_Cardio\" <dr.martin@Medecin.MSSante.fr>",
       "To: secretariat@hopital-test.mssante.fr",
       "Cc: \"Dr B\" <dr.b@medecin.mssante.fr>, archive@hopital-test.mssante.fr",
       "Subject: XDM/1.0/DDM+Compte rendu TEST Patient", "Date: Fri, 05 Jan 2024 10:11:12 +0100",
       "Message-ID: <20240105101112.42@medecin.mssante.fr>",
       "Disposition-Notification-To: <dr.martin@medecin.mssante.fr>", "X-MSS-CODECDA: 11490-0",
       "X-MSS-INS: O", "X-MSS-NIL: 0123456789", "MIME-Version: 1.0",
       "Content-Type: multipart/mixed; boundary=\"=_mss_b1\""},
      multipartBody("=_mss_b1", {text, zip_part, pdf_part}));
}

}  // namespace liaison::parse::test
