// The steps of a project, in order. Each step is one Svelte component taking a `StepContext`;
// adding a step means adding one entry here.

import type { Component } from 'svelte';
import { Boxes, Hammer, Usb, Settings2, Play } from '@lucide/svelte';
import type { StepContext } from './context';
import DefineStep from './DefineStep.svelte';
import BuildStep from './BuildStep.svelte';
import FlashStep from './FlashStep.svelte';
import ConfigureStep from './ConfigureStep.svelte';
import RunStep from './RunStep.svelte';

export interface Step {
  id: string;
  title: string;
  /** One line under the title in the step bar. */
  caption: string;
  icon: typeof Boxes;
  component: Component<{ context: StepContext }>;
}

export const STEPS: Step[] = [
  { id: 'define', title: 'Define', caption: 'What goes into the image', icon: Boxes, component: DefineStep },
  { id: 'build', title: 'Build', caption: 'Make the image file', icon: Hammer, component: BuildStep },
  { id: 'flash', title: 'Flash', caption: 'Write it to a USB stick', icon: Usb, component: FlashStep },
  { id: 'configure', title: 'Configure', caption: 'Hostname, Wi-Fi, SSH', icon: Settings2, component: ConfigureStep },
  { id: 'run', title: 'Run', caption: 'Try it in a virtual machine', icon: Play, component: RunStep },
];
