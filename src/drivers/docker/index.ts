// The Docker driver's public surface.
export { DockerDriver } from './driver.js';
export type { DockerDriverConfig, DockerLog, HostPathChoice } from './driver.js';
export { resolveDockerEndpoint, readFileIfExists, DEFAULT_DOCKER_SOCKET } from './endpoint.js';
export type { EndpointInputs, EndpointSource, ResolvedEndpoint } from './endpoint.js';
export { nodeContainerOptions, nodeLabels, varVolumeName, varVolumeOptions, REDUCED_CAPABILITIES, API_SERVER_PORT, NODE_STOP_SIGNAL } from './container-spec.js';
export { SUBNET_POOL } from './ipam.js';
