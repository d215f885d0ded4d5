//! GPU resources of the compare view, made once and kept in egui-wgpu's callback resources:
//! the pipeline, sampler, uniform buffer and the images' textures (with mip levels). The paint
//! callback carries only the per-frame values.

use std::collections::HashMap;

use eframe::egui_wgpu::{self, wgpu};
use image::RgbaImage;

/// The shader's uniform block; the layout matches `Params` in `shaders/compare.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    /// The rectangle's size in physical pixels.
    pub rect_size: [f32; 2],
    /// Generation size in pixels.
    pub gen_size: [f32; 2],
    /// Training image size in pixels.
    pub train_size: [f32; 2],
    /// Generation pixel at each pane's centre.
    pub center: [f32; 2],
    /// First row of the generation-to-training affine map.
    pub align_row0: [f32; 4],
    /// Second row of the generation-to-training affine map.
    pub align_row1: [f32; 4],
    /// Screen pixels per generation pixel.
    pub scale: f32,
    /// 0 side by side, 1 overlay, 2 difference, 3 swipe, 4 blink.
    pub mode: u32,
    /// Overlay weight of the training image.
    pub opacity: f32,
    /// Difference gain.
    pub gain: f32,
    /// Swipe split, 0..1 of the width.
    pub split: f32,
    /// Blink: 1 shows the training image.
    pub show_b: u32,
    /// Difference colour map: 0 heat, 1 grayscale.
    pub colormap: u32,
    /// Gap between side-by-side panes in physical pixels.
    pub gap: f32,
    /// Colour outside the images.
    pub background: [f32; 4],
    /// 1 when the render target is sRGB, so colours must be written linear.
    pub to_linear: u32,
    /// Padding to 16 bytes.
    pub _pad: [u32; 3],
}

/// The shader's source, validated by a test.
pub const SHADER: &str = include_str!("../../../shaders/compare.wgsl");

/// Pipeline, sampler, buffers and textures of the compare view.
pub struct CompareResources {
    pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    sampler: wgpu::Sampler,
    uniforms: wgpu::Buffer,
    /// Uploaded images by id; the desk decides what stays ([`Self::remove`]).
    textures: HashMap<u64, wgpu::TextureView>,
    bind_groups: HashMap<(u64, u64), wgpu::BindGroup>,
    target_is_srgb: bool,
    max_side: u32,
}

impl CompareResources {
    /// Makes the resources and stores them in the renderer's callback resources.
    pub fn install(render_state: &egui_wgpu::RenderState) {
        let device = &render_state.device;
        let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("replicant compare"),
            source: wgpu::ShaderSource::Wgsl(SHADER.into()),
        });
        let texture_entry = |binding| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::FRAGMENT,
            ty: wgpu::BindingType::Texture {
                sample_type: wgpu::TextureSampleType::Float { filterable: true },
                view_dimension: wgpu::TextureViewDimension::D2,
                multisampled: false,
            },
            count: None,
        };
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("replicant compare"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: wgpu::BufferSize::new(
                            std::mem::size_of::<Params>() as u64
                        ),
                    },
                    count: None,
                },
                texture_entry(1),
                texture_entry(2),
                wgpu::BindGroupLayoutEntry {
                    binding: 3,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
                    count: None,
                },
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("replicant compare"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("replicant compare"),
            layout: Some(&pipeline_layout),
            vertex: wgpu::VertexState {
                module: &shader,
                entry_point: Some("vs_main"),
                compilation_options: Default::default(),
                buffers: &[],
            },
            fragment: Some(wgpu::FragmentState {
                module: &shader,
                entry_point: Some("fs_main"),
                compilation_options: Default::default(),
                targets: &[Some(render_state.target_format.into())],
            }),
            primitive: wgpu::PrimitiveState::default(),
            depth_stencil: None,
            multisample: wgpu::MultisampleState::default(),
            multiview_mask: None,
            cache: None,
        });
        let sampler = device.create_sampler(&wgpu::SamplerDescriptor {
            label: Some("replicant compare"),
            mag_filter: wgpu::FilterMode::Nearest,
            min_filter: wgpu::FilterMode::Linear,
            mipmap_filter: wgpu::MipmapFilterMode::Linear,
            ..Default::default()
        });
        let uniforms = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("replicant compare"),
            size: std::mem::size_of::<Params>() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let max_side = device.limits().max_texture_dimension_2d;
        let mut resources = Self {
            pipeline,
            layout,
            sampler,
            uniforms,
            textures: HashMap::new(),
            bind_groups: HashMap::new(),
            target_is_srgb: render_state.target_format.is_srgb(),
            max_side,
        };
        // Texture 0: a 1x1 transparent placeholder for a side not loaded yet.
        let blank = RgbaImage::from_pixel(1, 1, image::Rgba([0, 0, 0, 0]));
        resources.upload_levels(device, &render_state.queue, 0, std::slice::from_ref(&blank));
        render_state
            .renderer
            .write()
            .callback_resources
            .insert(resources);
    }

    /// Whether the target wants linear colours.
    pub fn target_is_srgb(&self) -> bool {
        self.target_is_srgb
    }

    /// Whether the texture `id` is uploaded.
    pub fn has(&self, id: u64) -> bool {
        self.textures.contains_key(&id)
    }

    /// Uploads an image and its mip levels as texture `id` (replacing any earlier one).
    pub fn upload(render_state: &egui_wgpu::RenderState, id: u64, levels: &[RgbaImage]) {
        let mut renderer = render_state.renderer.write();
        let Some(resources) = renderer.callback_resources.get_mut::<CompareResources>() else {
            tracing::warn!("compare view resources missing; image not uploaded");
            return;
        };
        resources.upload_levels(&render_state.device, &render_state.queue, id, levels);
    }

    fn upload_levels(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        id: u64,
        levels: &[RgbaImage],
    ) {
        // Skip levels larger than the device allows (the loader already caps at 8192).
        let levels: Vec<&RgbaImage> = levels
            .iter()
            .skip_while(|l| l.width().max(l.height()) > self.max_side)
            .collect();
        let Some(base) = levels.first() else { return };
        let size = wgpu::Extent3d {
            width: base.width(),
            height: base.height(),
            depth_or_array_layers: 1,
        };
        let texture = device.create_texture(&wgpu::TextureDescriptor {
            label: Some("replicant compare image"),
            size,
            mip_level_count: levels.len() as u32,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: wgpu::TextureFormat::Rgba8Unorm,
            usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
            view_formats: &[],
        });
        for (level, image) in levels.iter().enumerate() {
            queue.write_texture(
                wgpu::TexelCopyTextureInfo {
                    texture: &texture,
                    mip_level: level as u32,
                    origin: wgpu::Origin3d::ZERO,
                    aspect: wgpu::TextureAspect::All,
                },
                image.as_raw(),
                wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(4 * image.width()),
                    rows_per_image: Some(image.height()),
                },
                wgpu::Extent3d {
                    width: image.width(),
                    height: image.height(),
                    depth_or_array_layers: 1,
                },
            );
        }
        let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
        self.textures.insert(id, view);
        self.bind_groups.retain(|(a, b), _| *a != id && *b != id);
    }

    /// Drops textures `ids` (the desk, which owns what is uploaded, evicted them).
    pub fn remove(render_state: &egui_wgpu::RenderState, ids: &[u64]) {
        if ids.is_empty() {
            return;
        }
        let mut renderer = render_state.renderer.write();
        let Some(resources) = renderer.callback_resources.get_mut::<CompareResources>() else {
            return;
        };
        for id in ids.iter().filter(|&&id| id != 0) {
            resources.textures.remove(id);
            resources.bind_groups.retain(|(a, b), _| a != id && b != id);
        }
    }

    /// How many images are uploaded (the placeholder not counted).
    pub fn uploaded_count(&self) -> usize {
        self.textures.keys().filter(|&&id| id != 0).count()
    }

    fn bind_group(&mut self, device: &wgpu::Device, a: u64, b: u64) -> Option<&wgpu::BindGroup> {
        let a = if self.textures.contains_key(&a) { a } else { 0 };
        let b = if self.textures.contains_key(&b) { b } else { 0 };
        if !self.bind_groups.contains_key(&(a, b)) {
            let (view_a, view_b) = (self.textures.get(&a)?, self.textures.get(&b)?);
            let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("replicant compare"),
                layout: &self.layout,
                entries: &[
                    wgpu::BindGroupEntry {
                        binding: 0,
                        resource: self.uniforms.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 1,
                        resource: wgpu::BindingResource::TextureView(view_a),
                    },
                    wgpu::BindGroupEntry {
                        binding: 2,
                        resource: wgpu::BindingResource::TextureView(view_b),
                    },
                    wgpu::BindGroupEntry {
                        binding: 3,
                        resource: wgpu::BindingResource::Sampler(&self.sampler),
                    },
                ],
            });
            self.bind_groups.insert((a, b), group);
        }
        self.bind_groups.get(&(a, b))
    }
}

/// One frame's drawing of the compare view.
pub struct CompareCallback {
    /// The uniforms.
    pub params: Params,
    /// Texture of the generation.
    pub a: u64,
    /// Texture of the training image.
    pub b: u64,
}

impl egui_wgpu::CallbackTrait for CompareCallback {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        _screen: &egui_wgpu::ScreenDescriptor,
        _encoder: &mut wgpu::CommandEncoder,
        resources: &mut egui_wgpu::CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        let Some(resources) = resources.get_mut::<CompareResources>() else {
            return Vec::new();
        };
        let mut params = self.params;
        params.to_linear = u32::from(resources.target_is_srgb);
        queue.write_buffer(&resources.uniforms, 0, bytemuck::bytes_of(&params));
        let _ = resources.bind_group(device, self.a, self.b);
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        render_pass: &mut wgpu::RenderPass<'static>,
        resources: &egui_wgpu::CallbackResources,
    ) {
        let Some(resources) = resources.get::<CompareResources>() else {
            return;
        };
        let a = if resources.textures.contains_key(&self.a) {
            self.a
        } else {
            0
        };
        let b = if resources.textures.contains_key(&self.b) {
            self.b
        } else {
            0
        };
        let Some(group) = resources.bind_groups.get(&(a, b)) else {
            return;
        };
        render_pass.set_pipeline(&resources.pipeline);
        render_pass.set_bind_group(0, group, &[]);
        render_pass.draw(0..6, 0..1);
    }
}
