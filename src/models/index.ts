// The networks of the papers, one file per family, and the registry that builds them by name.
export * from './registry.js';
export { MadryCnn, madryCnn, madryCnnParameterCount, type MadryCnnConfig } from './madry-cnn.js';
export {
  ResNet, BasicBlock, Bottleneck, CifarResNet, MadryWideResNet, type ResNetConfig, type CifarResNetConfig, type CifarShortcut, type MadryWideResNetConfig, type ResNetBlockKind,
  resnetParameterCount, cifarResNetParameterCount, madryWideResNetParameterCount,
  resnet18, resnet34, resnet50, resnet101, resnet152, resnet20, resnet32, resnet44, resnet56, resnet110, plain20, plain32, plain44, plain56, plain110,
} from './resnet.js';
export {
  VisionTransformer, type ViTConfig, type ViTOutput, VIT_PRESETS, vitConfig, vitParameterCount, interpolatePosEmbedding, attentionDistance, attentionRollout, classTokenMap,
  vitB16, vitB32, vitL16, vitL32, vitH14, vitTinyMnist, vitTinyCifar,
} from './vit.js';
export { convertTimmVit } from './vit-convert.js';
export { SwinTransformer, type SwinConfig, SWIN_PRESETS, swinParameterCount, swinT, swinS, swinB, swinL, swinTinyMnist, swinTinyCifar } from './swin.js';
export * from './swin-windows.js';
export * from './flops.js';
export {
  GanGenerator, GanDiscriminator, type GanGeneratorConfig, type GanDiscriminatorConfig, GAN_GENERATOR_DEFAULTS, GAN_DISCRIMINATOR_DEFAULTS,
  ganGeneratorParameterCount, ganDiscriminatorParameterCount, ganMnistGenerator, ganMnistDiscriminator, sampleLatent,
} from './gan.js';
