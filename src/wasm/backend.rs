//! Where a tagger computes: the CPU or the browser's GPU (`LoadOptions.backend`).
//!
//! `auto` keeps to the CPU where there is no WebGPU, no adapter, or only a software one
//! (SwiftShader, llvmpipe, WARP). On a hardware adapter it does not assume the GPU wins: a
//! Bi-LSTM reads a sentence one word after another, and many small GPU dispatches can be
//! slower than the processor, as can an integrated GPU against a fast CPU. So it tags a
//! short text on each device and keeps the faster. The times are returned
//! ([`Timings`]) so that the caller can remember them per model and adapter and pass them
//! back next time, instead of measuring again (js/worker.js keeps them in IndexedDB).

use super::adapter::{self, GraphicsAdapter, NoGpu};
use crate::error::Result;
use crate::models::{Model, Tagger as _};
use crate::text::Segmentation;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use wasm_bindgen::JsCast;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    #[default]
    Auto,
    Webgpu,
    Cpu,
}

/// Milliseconds that tagging [`probe_text`] took on each device, after one untimed run that
/// compiles the GPU's kernels and fills the allocators.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timings {
    pub cpu: f64,
    pub webgpu: f64,
}

/// A model on the device it will compute on, and why that one.
pub struct Placed {
    pub model: Model,
    pub backend: &'static str,
    /// Why `auto` kept to the CPU, if it did.
    pub fallback: Option<NoGpu>,
    /// What `auto` chose by: measured here, or the caller's from an earlier load.
    pub timings: Option<Timings>,
}

impl Placed {
    fn cpu(model: Model, fallback: Option<NoGpu>, timings: Option<Timings>) -> Self {
        Placed {
            model,
            backend: "cpu",
            fallback,
            timings,
        }
    }
}

/// How `auto` decides.
#[derive(Clone, Copy, Debug, Default)]
pub struct AutoRules {
    /// Also measure a software adapter against the CPU, instead of refusing it outright.
    pub allow_software_adapter: bool,
    /// Times from an earlier load of the same model on the same adapter: chosen by, not
    /// measured again.
    pub known: Option<Timings>,
}

/// Puts the model that `read` parses on the device `choice` names. `read` may be called a
/// second time, for a copy on the GPU to measure against the one on the CPU.
pub async fn place(
    read: impl Fn() -> Result<Model>,
    choice: BackendChoice,
    rules: AutoRules,
) -> Result<Placed, String> {
    let model = read().map_err(|e| e.to_string())?;
    if choice == BackendChoice::Cpu || !model.computes_on_devices() {
        return Ok(Placed::cpu(model, None, None));
    }
    if choice == BackendChoice::Webgpu {
        let device = webgpu_device().await.map_err(|why| why.message())?;
        return Ok(Placed {
            model: model.to_device(&device),
            backend: "webgpu",
            fallback: None,
            timings: None,
        });
    }
    let adapter = match adapter::graphics_adapter().await {
        Ok(adapter) if adapter.software && !rules.allow_software_adapter => {
            return Ok(Placed::cpu(model, Some(adapter.why_not_software()), None))
        }
        Ok(adapter) => adapter,
        Err(why) => return Ok(Placed::cpu(model, Some(why), None)),
    };
    // Remembered times that favour the CPU need no GPU at all (the package's worker then
    // loads only the CPU's module, which could not start one).
    if let Some(known) = rules.known.filter(|known| !gpu_wins(known)) {
        let why = cpu_was_faster(&model, &known, &adapter);
        return Ok(Placed::cpu(model, Some(why), Some(known)));
    }
    let device = match webgpu_device().await {
        Ok(device) => device,
        Err(why) => return Ok(Placed::cpu(model, Some(why), None)),
    };
    let (timings, on_gpu) = match rules.known {
        Some(known) => (known, None),
        None => {
            let on_gpu = read().map_err(|e| e.to_string())?.to_device(&device);
            let cpu = time_probe(&model).await.map_err(|e| e.to_string())?;
            let webgpu = match time_probe(&on_gpu).await {
                Ok(webgpu) => webgpu,
                Err(error) => {
                    let why = NoGpu {
                        reason: "the graphics adapter failed a short test".to_string(),
                        detail: format!("{error} (GPUAdapterInfo: {})", adapter.description),
                    };
                    return Ok(Placed::cpu(model, Some(why), None));
                }
            };
            (Timings { cpu, webgpu }, Some(on_gpu))
        }
    };
    if gpu_wins(&timings) {
        return Ok(Placed {
            model: on_gpu.unwrap_or_else(|| model.to_device(&device)),
            backend: "webgpu",
            fallback: None,
            timings: Some(timings),
        });
    }
    let why = cpu_was_faster(&model, &timings, &adapter);
    Ok(Placed::cpu(model, Some(why), Some(timings)))
}

fn gpu_wins(timings: &Timings) -> bool {
    timings.webgpu < timings.cpu
}

/// Why `auto` kept to the CPU by `timings`.
fn cpu_was_faster(model: &Model, timings: &Timings, adapter: &GraphicsAdapter) -> NoGpu {
    NoGpu {
        reason: "the processor tagged a short test text faster than the graphics adapter"
            .to_string(),
        detail: format!(
            "a {}-word text took {:.1} ms on the CPU and {:.1} ms with WebGPU on GPUAdapterInfo: {}",
            probe_text(model.language()).split_whitespace().count(),
            timings.cpu,
            timings.webgpu,
            adapter.description
        ),
    }
}

/// What `auto` times on each device: one clinical sentence pair in the model's language, as
/// long as a typical sentence of a case report (BERT's cost grows with the window).
fn probe_text(language: &str) -> &'static str {
    match language {
        "es" => {
            "Paciente de 64 años con hipertensión arterial tratada con enalapril 20 mg al día \
             y metformina 850 mg cada 12 horas. En la analítica destacaban una creatinina de \
             1,4 mg/dl y una proteína C reactiva elevada."
        }
        _ => {
            "A 64-year-old man with hypertension treated with enalapril 20 mg daily and \
             metformin 850 mg twice daily. Laboratory tests showed a creatinine of 1.4 mg/dl \
             and a raised C-reactive protein, and BRCA1 expression was measured."
        }
    }
}

async fn time_probe(model: &Model) -> Result<f64> {
    let text = probe_text(model.language());
    let segmentation = Segmentation::of(text);
    model.tag_async(text, &segmentation).await?;
    let start = now();
    model.tag_async(text, &segmentation).await?;
    Ok(now() - start)
}

/// Milliseconds from `performance.now()` (windows and workers), else from `Date.now()`.
fn now() -> f64 {
    let performance =
        js_sys::Reflect::get(&js_sys::global(), &"performance".into()).unwrap_or_default();
    js_sys::Reflect::get(&performance, &"now".into())
        .ok()
        .and_then(|now| now.dyn_into::<js_sys::Function>().ok())
        .and_then(|now| now.call0(&performance).ok())
        .and_then(|value| value.as_f64())
        .unwrap_or_else(js_sys::Date::now)
}

thread_local! {
    /// The page's one WebGPU device, or why there is none. burn registers a wgpu runtime
    /// once per page, so every tagger shares it.
    static WEBGPU: RefCell<Option<Result<Device, NoGpu>>> =
        const { RefCell::new(None) };
}

async fn webgpu_device() -> Result<Device, NoGpu> {
    if let Some(known) = WEBGPU.with(|cell| cell.borrow().clone()) {
        return known;
    }
    let device = if !adapter::has_navigator_gpu() {
        Err(NoGpu::no_webgpu())
    } else {
        start_webgpu().await
    };
    WEBGPU.with(|cell| *cell.borrow_mut() = Some(device.clone()));
    device
}

#[cfg(feature = "webgpu")]
async fn start_webgpu() -> Result<Device, NoGpu> {
    Device::wgpu_options()
        .init_async()
        .await
        .map_err(|e| NoGpu {
            reason: "WebGPU could not start on this graphics adapter".to_string(),
            detail: e.to_string(),
        })
}

/// The module built without the `webgpu` feature (pkg/, the smaller one) has no GPU backend;
/// the package's worker loads the other module (pkg/webgpu/) where a GPU is to be used.
#[cfg(not(feature = "webgpu"))]
async fn start_webgpu() -> Result<Device, NoGpu> {
    Err(NoGpu {
        reason: "this build of clinitag computes on the CPU only".to_string(),
        detail: "the module without WebGPU (pkg/clinitag_bg.wasm) was loaded; the one with \
                 it is pkg/webgpu/clinitag_bg.wasm"
            .to_string(),
    })
}
