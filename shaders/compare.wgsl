// The compare view: draws the generation (A) and a matched training image (B) into one
// rectangle, in one of several modes, with a shared zoom and pan in generation pixels.
//
// Coordinates: `local` is the fragment's position inside the rectangle in physical pixels.
// Each pane maps local pixels to generation pixels with `scale` (screen px per generation
// px) and `center` (the generation pixel at the pane's centre). Training pixels come from
// generation pixels through the affine `align` (identity in normalised coordinates when
// unaligned).

struct Params {
    rect_size: vec2<f32>,      // the rectangle, physical pixels
    gen_size: vec2<f32>,       // generation size in pixels
    train_size: vec2<f32>,     // training image size in pixels
    center: vec2<f32>,         // generation pixel at each pane's centre
    align_row0: vec4<f32>,     // training_px.x = dot(row0.xyz, (gen_px, 1))
    align_row1: vec4<f32>,     // training_px.y = dot(row1.xyz, (gen_px, 1))
    scale: f32,                // screen pixels per generation pixel
    mode: u32,                 // 0 side by side, 1 overlay, 2 difference, 3 swipe, 4 blink
    opacity: f32,              // overlay: weight of B
    gain: f32,                 // difference: gain
    split: f32,                // swipe: split position, 0..1 of the width
    show_b: u32,               // blink: 1 shows B
    colormap: u32,             // difference: 0 inferno-like heat, 1 grayscale
    gap: f32,                  // side by side: gap between panes, physical pixels
    background: vec4<f32>,     // colour outside the images
    to_linear: u32,            // 1 when the target is sRGB: write linear colours
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var image_a: texture_2d<f32>;
@group(0) @binding(2) var image_b: texture_2d<f32>;
@group(0) @binding(3) var image_sampler: sampler;

struct VertexOut {
    @builtin(position) position: vec4<f32>,
    @location(0) uv: vec2<f32>,
};

// A full-rectangle triangle pair; egui sets the viewport to the callback's rectangle.
@vertex
fn vs_main(@builtin(vertex_index) index: u32) -> VertexOut {
    var corners = array<vec2<f32>, 6>(
        vec2<f32>(0.0, 0.0), vec2<f32>(1.0, 0.0), vec2<f32>(0.0, 1.0),
        vec2<f32>(0.0, 1.0), vec2<f32>(1.0, 0.0), vec2<f32>(1.0, 1.0),
    );
    let uv = corners[index];
    var out: VertexOut;
    out.position = vec4<f32>(uv.x * 2.0 - 1.0, 1.0 - uv.y * 2.0, 0.0, 1.0);
    out.uv = uv;
    return out;
}

// Generation pixel shown at `local` in a pane of `pane_size` whose origin is `pane_origin`.
fn gen_px_at(local: vec2<f32>, pane_origin: vec2<f32>, pane_size: vec2<f32>) -> vec2<f32> {
    return params.center + (local - pane_origin - pane_size * 0.5) / params.scale;
}

fn train_px_of(gen_px: vec2<f32>) -> vec2<f32> {
    let p = vec3<f32>(gen_px, 1.0);
    return vec2<f32>(dot(params.align_row0.xyz, p), dot(params.align_row1.xyz, p));
}

// Samples an image at pixel `px` of an image of `size`; alpha 0 outside it.
fn sample_px(which: u32, px: vec2<f32>, size: vec2<f32>) -> vec4<f32> {
    let uv = px / size;
    let inside = all(uv >= vec2<f32>(0.0)) && all(uv <= vec2<f32>(1.0));
    var colour: vec4<f32>;
    if which == 0u {
        colour = textureSampleLevel(image_a, image_sampler, uv, mip_level(size));
    } else {
        colour = textureSampleLevel(image_b, image_sampler, uv, mip_level(size));
    }
    return select(vec4<f32>(0.0), vec4<f32>(colour.rgb, 1.0), inside);
}

// The mip level for this zoom: one level per halving of screen pixels per image pixel.
fn mip_level(size: vec2<f32>) -> f32 {
    let screen_per_texel = params.scale * params.gen_size.x / max(size.x, 1.0);
    return max(0.0, -log2(max(screen_per_texel, 1e-6)));
}

fn heat(t: f32) -> vec3<f32> {
    let x = clamp(t, 0.0, 1.0);
    // A compact inferno-like ramp: black, purple, orange, yellow, white.
    let c0 = vec3<f32>(0.0, 0.0, 0.02);
    let c1 = vec3<f32>(0.45, 0.05, 0.45);
    let c2 = vec3<f32>(0.95, 0.4, 0.05);
    let c3 = vec3<f32>(1.0, 0.95, 0.6);
    if x < 0.33 { return mix(c0, c1, x / 0.33); }
    if x < 0.66 { return mix(c1, c2, (x - 0.33) / 0.33); }
    return mix(c2, c3, (x - 0.66) / 0.34);
}

fn over_background(c: vec4<f32>) -> vec4<f32> {
    return vec4<f32>(mix(params.background.rgb, c.rgb, c.a), 1.0);
}

fn srgb_to_linear(c: vec3<f32>) -> vec3<f32> {
    return select(pow((c + 0.055) / 1.055, vec3<f32>(2.4)), c / 12.92, c <= vec3<f32>(0.04045));
}

@fragment
fn fs_main(in: VertexOut) -> @location(0) vec4<f32> {
    let colour = shade(in);
    if params.to_linear == 1u {
        return vec4<f32>(srgb_to_linear(colour.rgb), colour.a);
    }
    return colour;
}

fn shade(in: VertexOut) -> vec4<f32> {
    let local = in.uv * params.rect_size;
    if params.mode == 0u {
        // Side by side: two panes, each with the shared view.
        let pane = vec2<f32>((params.rect_size.x - params.gap) * 0.5, params.rect_size.y);
        if local.x < pane.x {
            let g = gen_px_at(local, vec2<f32>(0.0), pane);
            return over_background(sample_px(0u, g, params.gen_size));
        }
        if local.x < pane.x + params.gap {
            return params.background * 0.8;
        }
        let g = gen_px_at(local, vec2<f32>(pane.x + params.gap, 0.0), pane);
        return over_background(sample_px(1u, train_px_of(g), params.train_size));
    }
    let g = gen_px_at(local, vec2<f32>(0.0), params.rect_size);
    let a = sample_px(0u, g, params.gen_size);
    let b = sample_px(1u, train_px_of(g), params.train_size);
    if params.mode == 1u {
        let w = params.opacity * b.a;
        return over_background(vec4<f32>(mix(a.rgb, b.rgb, w), max(a.a, b.a)));
    }
    if params.mode == 2u {
        if a.a == 0.0 || b.a == 0.0 {
            return over_background(select(a, b, a.a == 0.0) * vec4<f32>(0.3, 0.3, 0.3, 1.0));
        }
        let d = length(a.rgb - b.rgb) / sqrt(3.0) * params.gain;
        let c = select(heat(d), vec3<f32>(clamp(d, 0.0, 1.0)), params.colormap == 1u);
        return vec4<f32>(c, 1.0);
    }
    if params.mode == 3u {
        let split_x = params.split * params.rect_size.x;
        if abs(local.x - split_x) < 1.5 {
            return vec4<f32>(1.0, 1.0, 1.0, 1.0);
        }
        return over_background(select(b, a, local.x < split_x));
    }
    // Blink.
    return over_background(select(a, b, params.show_b == 1u));
}
