//! Which graphics adapter the browser offers, read before burn's wgpu runtime starts.
//! `backend: "auto"` must not take a software adapter (SwiftShader, llvmpipe, WARP): the
//! models run tens of times slower there than on the CPU, which is what a hospital PC
//! without a usable GPU would otherwise get.

use std::cell::RefCell;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Why the tagger keeps to the CPU: a sentence for the person at the page, and the technical
/// detail for whoever supports them.
#[derive(Clone, Debug)]
pub struct NoGpu {
    pub reason: String,
    pub detail: String,
}

impl NoGpu {
    fn new(reason: &str, detail: impl Into<String>) -> Self {
        NoGpu {
            reason: reason.to_string(),
            detail: detail.into(),
        }
    }

    pub fn no_webgpu() -> Self {
        let global = js_sys::global();
        let node = property(&property(&property(&global, "process"), "versions"), "node");
        if node.is_string() || is_missing(&property(&global, "navigator")) {
            return NoGpu::new(
                "WebGPU is only offered in a browser",
                "no navigator.gpu outside a browser (Node.js, a server): the CPU computes",
            );
        }
        NoGpu::new(
            "this browser does not offer WebGPU",
            "navigator.gpu is missing: WebGPU needs a recent Chrome or Edge (or a browser with \
             WebGPU turned on) and a page served over HTTPS or from localhost",
        )
    }

    /// Both in one line, for an error when WebGPU was asked for by name.
    pub fn message(&self) -> String {
        format!("{} ({})", self.reason, self.detail)
    }
}

/// Words in an adapter's vendor, architecture, device or description that name a software
/// renderer, for browsers that do not set `isFallbackAdapter` on one.
/// (WARP is matched by its adapter name only: "warp" alone is too common a substring.)
const SOFTWARE_RENDERERS: [&str; 5] = [
    "swiftshader",
    "llvmpipe",
    "lavapipe",
    "softpipe",
    "microsoft basic render",
];

/// A property of a JavaScript object, `undefined` where there is none or the object is not
/// one: this never throws.
fn property(object: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(object, &name.into()).unwrap_or(JsValue::UNDEFINED)
}

fn is_missing(value: &JsValue) -> bool {
    value.is_undefined() || value.is_null()
}

/// Whether the global object (window or worker) exposes `navigator.gpu`.
pub fn has_navigator_gpu() -> bool {
    !is_missing(&property(&property(&js_sys::global(), "navigator"), "gpu"))
}

/// The browser's default WebGPU adapter, as `GPUAdapterInfo` describes it (and as
/// `graphicsAdapter()` gives it to JavaScript).
#[derive(Clone, Debug, serde::Serialize)]
pub struct GraphicsAdapter {
    /// Vendor, architecture, device and description: which adapter, for the technical detail
    /// and to remember a choice made on it.
    pub description: String,
    /// A software renderer (SwiftShader, llvmpipe, WARP): nearly always slower than the CPU.
    pub software: bool,
}

impl GraphicsAdapter {
    /// Why `auto` does not take this adapter when it is a software one.
    pub fn why_not_software(&self) -> NoGpu {
        NoGpu::new(
            "the only graphics adapter is a software one, slower than the processor",
            format!("GPUAdapterInfo: {}", self.description),
        )
    }
}

/// `Ok` when the browser's default WebGPU adapter is a hardware one; otherwise why not.
pub async fn hardware_adapter() -> Result<GraphicsAdapter, NoGpu> {
    let adapter = graphics_adapter().await?;
    if adapter.software {
        return Err(adapter.why_not_software());
    }
    Ok(adapter)
}

thread_local! {
    /// The adapter as first read: the package's worker asks before it picks a module, and
    /// each load asks again; the browser is asked once.
    static ADAPTER: RefCell<Option<Result<GraphicsAdapter, NoGpu>>> = const { RefCell::new(None) };
}

/// The browser's default WebGPU adapter, hardware or software; why there is none.
pub async fn graphics_adapter() -> Result<GraphicsAdapter, NoGpu> {
    if let Some(known) = ADAPTER.with(|cell| cell.borrow().clone()) {
        return known;
    }
    let adapter = request_adapter().await;
    ADAPTER.with(|cell| *cell.borrow_mut() = Some(adapter.clone()));
    adapter
}

async fn request_adapter() -> Result<GraphicsAdapter, NoGpu> {
    let gpu = property(&property(&js_sys::global(), "navigator"), "gpu");
    if is_missing(&gpu) {
        return Err(NoGpu::no_webgpu());
    }
    let request = property(&gpu, "requestAdapter")
        .dyn_into::<js_sys::Function>()
        .map_err(|_| NoGpu::new("this browser does not offer WebGPU", "no requestAdapter"))?;
    let adapter = match request.call0(&gpu).map(js_sys::Promise::from) {
        Ok(promise) => JsFuture::from(promise).await,
        Err(error) => Err(error),
    }
    .map_err(|error| {
        NoGpu::new(
            "the browser could not reach a graphics adapter",
            format!("navigator.gpu.requestAdapter() failed: {error:?}"),
        )
    })?;
    if is_missing(&adapter) {
        return Err(NoGpu::new(
            "the browser found no graphics adapter it can use",
            "navigator.gpu.requestAdapter() gave null: the GPU may be blocked for this browser",
        ));
    }
    // `GPUAdapter.info` (Chrome 127+), with the older `isFallbackAdapter` on the adapter.
    let info = property(&adapter, "info");
    let field = |name: &str| property(&info, name).as_string().unwrap_or_default();
    let fields = [
        field("vendor"),
        field("architecture"),
        field("device"),
        field("description"),
    ];
    let fallback = property(&info, "isFallbackAdapter")
        .as_bool()
        .or_else(|| property(&adapter, "isFallbackAdapter").as_bool())
        .unwrap_or(false);
    let software = fields.iter().any(|text| {
        let text = text.to_lowercase();
        SOFTWARE_RENDERERS.iter().any(|name| text.contains(name))
    });
    let [vendor, architecture, device, description] = fields;
    Ok(GraphicsAdapter {
        description: format!(
            "vendor \"{vendor}\", architecture \"{architecture}\", device \"{device}\", \
             description \"{description}\", isFallbackAdapter {fallback}"
        ),
        software: fallback || software,
    })
}
