// qpdf's side of formLinesOfPdf (see pdf_structure.hpp for why it is a file of its own, in C++17).
//
// Order: qpdf opens the file (repairing a damaged xref as readers do) and refuses what needs a
// password; the page tree is walked (loops are errors) and counted; every stream that a text
// extraction would decode (all but images: content streams, form XObjects, fonts, object streams)
// is inflated once into a counting sink that stops at max_stream_bytes, so that poppler, which has
// no such bound, never meets a flate bomb; then the AcroForm's fields are read.

#include "parse/document/pdf_structure.hpp"

#include <qpdf/Buffer.hh>
#include <qpdf/Pipeline.hh>
#include <qpdf/QPDF.hh>
#include <qpdf/QPDFAcroFormDocumentHelper.hh>
#include <qpdf/QPDFAnnotationObjectHelper.hh>
#include <qpdf/QPDFExc.hh>
#include <qpdf/QPDFFormFieldObjectHelper.hh>
#include <qpdf/QPDFObjectHandle.hh>
#include <qpdf/QPDFPageDocumentHelper.hh>
#include <qpdf/QPDFPageObjectHelper.hh>
#include <qpdf/QPDFWriter.hh>

#include <algorithm>
#include <map>
#include <new>
#include <utility>

namespace liaison::parse::pdf {
namespace {

// ---- geometry ----------------------------------------------------------------------------------

// How a page's user space maps onto its displayed page (crop box, /Rotate).
struct PageFrame {
  double x0 = 0, y0 = 0, x1 = 612, y1 = 792;
  int rotate = 0;  // 0, 90, 180 or 270, clockwise

  Box toDisplay(const QPDFObjectHandle::Rectangle& r) const {
    const double w = x1 - x0;
    const double h = y1 - y0;
    auto point = [&](double x, double y) -> std::pair<double, double> {
      const double u = x - x0;
      const double v = y - y0;
      switch (rotate) {
        case 90:
          return {v, u};
        case 180:
          return {w - u, v};
        case 270:
          return {h - v, w - u};
        default:
          return {u, h - v};
      }
    };
    const auto a = point(r.llx, r.lly);
    const auto b = point(r.urx, r.ury);
    return {std::min(a.first, b.first), std::min(a.second, b.second), std::max(a.first, b.first),
            std::max(a.second, b.second)};
  }
};

PageFrame frameOf(QPDFPageObjectHelper& page) {
  PageFrame frame;
  QPDFObjectHandle box = page.getCropBox(false, false);
  if (box.isRectangle()) {
    const QPDFObjectHandle::Rectangle r = box.getArrayAsRectangle();
    frame.x0 = std::min(r.llx, r.urx);
    frame.y0 = std::min(r.lly, r.ury);
    frame.x1 = std::max(r.llx, r.urx);
    frame.y1 = std::max(r.lly, r.ury);
  }
  QPDFObjectHandle rotate = page.getAttribute("/Rotate", false);
  if (rotate.isInteger()) {
    const long long degrees = ((rotate.getIntValue() % 360) + 360) % 360;
    if (degrees % 90 == 0) frame.rotate = static_cast<int>(degrees);
  }
  return frame;
}

// ---- the bound on decoded streams --------------------------------------------------------------

// Thrown from inside qpdf's pipeline (not a std::exception: qpdf catches those and warns).
struct StreamBudgetExceeded {};

class StreamBudget final : public Pipeline {
 public:
  StreamBudget(std::size_t& used, std::size_t limit)
      : Pipeline("liaison stream budget", nullptr), used_(used), limit_(limit) {}
  void write(unsigned char const* data, size_t len) override {
    (void)data;
    used_ += len;
    if (used_ > limit_) throw StreamBudgetExceeded{};
  }
  void finish() override {}

 private:
  std::size_t& used_;
  std::size_t limit_;
};

// Every stream but images, decoded once into the budget. False when over it.
bool streamsWithinBudget(QPDF& qpdf, std::size_t limit) {
  std::size_t used = 0;
  for (QPDFObjectHandle& object : qpdf.getAllObjects()) {
    if (!object.isStream()) continue;
    if (object.getDict().getKey("/Subtype").isNameAndEquals("/Image")) continue;
    StreamBudget sink(used, limit);
    try {
      object.pipeStreamData(&sink, 0, qpdf_dl_generalized, true, false);
    } catch (const StreamBudgetExceeded&) {
      return false;
    } catch (const std::exception&) {
      // A stream that does not decode: poppler skips it too.
    }
    if (used > limit) return false;
  }
  return true;
}

// ---- fields ------------------------------------------------------------------------------------

// The field an answer belongs to. qpdf counts a widget that has a /Parent as a terminal field of
// its own even without a /T (the kids of a radio group): such a widget answers for its parent.
QPDFFormFieldObjectHelper answeringField(QPDFFormFieldObjectHelper field) {
  if (!field.isNull() && !field.getObjectHandle().hasKey("/T")) {
    QPDFFormFieldObjectHelper parent = field.getParent();
    if (!parent.isNull()) return parent;
  }
  return field;
}

std::string stringOf(QPDFObjectHandle object) {
  if (object.isString()) return object.getUTF8Value();
  if (object.isName()) return object.getName().substr(1);
  return {};
}

// A text or choice field's values, a button's ticked state: the facts of one answering field.
void readValue(QPDFFormFieldObjectHelper& field, std::vector<QPDFAnnotationObjectHelper>& widgets,
               Field& out) {
  if (field.isText() || field.isChoice()) {
    out.kind = field.isText() ? FieldKind::Text : FieldKind::Choice;
    QPDFObjectHandle v = field.getValue();
    if (v.isArray()) {
      const int n = std::min(v.getArrayNItems(), 64);
      for (int i = 0; i < n; ++i)
        out.values.push_back(stringOf(v.getArrayItem(i)));
    } else {
      out.values.push_back(stringOf(v));
    }
    return;
  }
  out.kind = field.isRadioButton() ? FieldKind::Radio : FieldKind::Checkbox;
  // The ticked state: the field's /V when it has one, else a widget's appearance state.
  std::string state;
  QPDFObjectHandle v = field.getValue();
  if (v.isName()) {
    state = v.getName();
  } else {
    for (QPDFAnnotationObjectHelper& w : widgets) {
      const std::string as = w.getAppearanceState();
      if (!as.empty() && as != "/Off") {
        state = as;
        break;
      }
    }
  }
  // A checkbox group acting as radio buttons: its widgets have distinct on-states.
  std::set<std::string> on_states;
  for (QPDFAnnotationObjectHelper& w : widgets) {
    QPDFObjectHandle normal = w.getObjectHandle().getKey("/AP").getKey("/N");
    if (!normal.isDictionary()) continue;
    for (const std::string& key : normal.getKeys()) {
      if (key != "/Off") on_states.insert(key);
    }
    if (on_states.size() > 1) break;
  }
  out.several_on_states = on_states.size() > 1;
  if (state.empty() || state == "/Off") return;
  std::string exported = state.substr(1);
  // With /Opt, on-states may be indices into the export values (PDF 1.7, 12.7.4.2.3).
  QPDFObjectHandle opt = field.getInheritableFieldValue("/Opt");
  if (opt.isArray() && !exported.empty() && exported.size() < 6 &&
      std::all_of(exported.begin(), exported.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    const int index = std::stoi(exported);
    if (index < opt.getArrayNItems() && opt.getArrayItem(index).isString()) {
      exported = opt.getArrayItem(index).getUTF8Value();
    }
  }
  out.state = exported;
}

// Thrown when there are too many fields to read.
struct TooManyFields {};

// Pushes the fields (and every widget's box) of the document's AcroForm.
void readFields(QPDF& qpdf, std::vector<QPDFPageObjectHelper>& pages, std::size_t max_fields,
                std::size_t& terminal_count, std::vector<Field>& out,
                std::vector<std::vector<Box>>& widget_boxes) {
  widget_boxes.assign(pages.size(), {});
  QPDFAcroFormDocumentHelper form(qpdf);
  if (!form.hasAcroForm()) return;
  std::vector<QPDFFormFieldObjectHelper> terminal = form.getFormFields();
  terminal_count = terminal.size();
  if (terminal_count > max_fields) throw TooManyFields{};

  // The answering fields, in qpdf's order, each with all its widgets.
  struct Answering {
    QPDFFormFieldObjectHelper field;
    std::vector<QPDFAnnotationObjectHelper> widgets;
  };
  std::vector<Answering> fields;
  std::map<QPDFObjGen, std::size_t> index;
  for (QPDFFormFieldObjectHelper& t : terminal) {
    QPDFFormFieldObjectHelper field = answeringField(t);
    const auto added = index.emplace(field.getObjectHandle().getObjGen(), fields.size());
    if (added.second) fields.push_back({field, {}});
    for (QPDFAnnotationObjectHelper& w : form.getAnnotationsForField(t)) {
      fields[added.first->second].widgets.push_back(w);
    }
  }

  // Where each field's first widget is.
  std::map<QPDFObjGen, std::pair<std::size_t, Box>> placed;
  for (std::size_t p = 0; p < pages.size(); ++p) {
    const PageFrame frame = frameOf(pages[p]);
    for (QPDFAnnotationObjectHelper& widget : form.getWidgetAnnotationsForPage(pages[p])) {
      const Box box = frame.toDisplay(widget.getRect());
      widget_boxes[p].push_back(box);
      QPDFFormFieldObjectHelper field = answeringField(form.getFieldForAnnotation(widget));
      if (field.isNull()) continue;
      placed.emplace(field.getObjectHandle().getObjGen(), std::make_pair(p, box));
    }
  }

  for (Answering& a : fields) {
    if (!(a.field.isText() || a.field.isChoice() || a.field.isCheckbox() ||
          a.field.isRadioButton())) {
      continue;  // push buttons, signatures
    }
    Field f;
    f.full_name = a.field.getFullyQualifiedName();
    f.partial_name = a.field.getPartialName();
    QPDFObjectHandle tu = a.field.getObjectHandle().getKey("/TU");
    if (tu.isString()) f.tooltip = tu.getUTF8Value();
    readValue(a.field, a.widgets, f);
    const auto where = placed.find(a.field.getObjectHandle().getObjGen());
    if (where != placed.end()) {
      f.page = where->second.first;
      f.box = where->second.second;
    }
    out.push_back(std::move(f));
  }
}

}  // namespace

struct Structure::Impl {
  QPDF qpdf;
  std::vector<QPDFPageObjectHelper> pages;
  std::size_t terminal_fields = 0;
  std::vector<Field> fields;
  std::vector<std::vector<Box>> widgets;
};

Structure::Structure() : impl_(std::make_unique<Impl>()) {}
Structure::~Structure() = default;

std::size_t Structure::pages() const {
  return impl_->pages.size();
}
std::size_t Structure::terminalFields() const {
  return impl_->terminal_fields;
}
const std::vector<Field>& Structure::fields() const {
  return impl_->fields;
}
const std::vector<std::vector<Box>>& Structure::widgets() const {
  return impl_->widgets;
}

Status Structure::read(std::string_view pdf, const Limits& limits) {
  QPDF& qpdf = impl_->qpdf;
  qpdf.setSuppressWarnings(true);
  qpdf.setAttemptRecovery(true);
  try {
    qpdf.processMemoryFile("fiche.pdf", pdf.data(), pdf.size());
  } catch (const QPDFExc& e) {
    return e.getErrorCode() == qpdf_e_password ? Status::Encrypted : Status::NotOpened;
  } catch (const std::bad_alloc&) {
    return Status::OutOfMemory;
  } catch (const std::exception&) {
    return Status::NotOpened;
  }
  try {
    impl_->pages = QPDFPageDocumentHelper(qpdf).getAllPages();
  } catch (const std::bad_alloc&) {
    return Status::OutOfMemory;
  } catch (const std::exception&) {
    return Status::PageTree;
  }
  if (impl_->pages.size() > limits.max_pages) return Status::TooManyPages;
  try {
    if (!streamsWithinBudget(qpdf, limits.max_stream_bytes)) return Status::StreamBudget;
    readFields(qpdf, impl_->pages, limits.max_fields, impl_->terminal_fields, impl_->fields,
               impl_->widgets);
  } catch (const TooManyFields&) {
    return Status::TooManyFields;
  } catch (const StreamBudgetExceeded&) {
    return Status::StreamBudget;
  } catch (const std::bad_alloc&) {
    return Status::OutOfMemory;
  } catch (const std::exception&) {
    // A form qpdf cannot make sense of: read as a document without fields.
    impl_->fields.clear();
    impl_->widgets.assign(impl_->pages.size(), {});
  }
  return Status::Ok;
}

std::string Structure::rewrite() {
  try {
    QPDF& qpdf = impl_->qpdf;
    qpdf.pushInheritedAttributesToPage();  // MediaBox, Resources… of the intermediate nodes
    QPDFObjectHandle root = qpdf.getRoot().getKey("/Pages");
    if (!root.isDictionary()) return {};
    QPDFObjectHandle kids = QPDFObjectHandle::newArray();
    for (QPDFPageObjectHelper& page : impl_->pages) {
      QPDFObjectHandle object = page.getObjectHandle();
      object.replaceKey("/Parent", root);
      kids.appendItem(object);
    }
    root.replaceKey("/Kids", kids);
    root.replaceKey("/Count",
                    QPDFObjectHandle::newInteger(static_cast<long long>(impl_->pages.size())));
    QPDFWriter writer(qpdf);
    writer.setOutputMemory();
    writer.write();
    std::shared_ptr<Buffer> buffer = writer.getBufferSharedPointer();
    return {reinterpret_cast<const char*>(buffer->getBuffer()), buffer->getSize()};
  } catch (...) {
    return {};
  }
}

}  // namespace liaison::parse::pdf
