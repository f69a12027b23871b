/** The parts of DigitalOcean API v2 objects this package reads (public shapes; extra fields ignored). */

export type ActionStatus = 'in-progress' | 'completed' | 'errored';

export interface Action {
  id: number;
  status: ActionStatus;
  type: string;
  started_at: string | null;
  completed_at: string | null;
  resource_id: number;
  resource_type: string;
  region_slug?: string | null;
}

export interface NetworkV4 {
  ip_address: string;
  type: 'public' | 'private';
  netmask?: string;
  gateway?: string;
}

export interface Droplet {
  id: number;
  name: string;
  status: 'new' | 'active' | 'off' | 'archive';
  locked: boolean;
  snapshot_ids: number[];
  networks: { v4: NetworkV4[]; v6?: unknown[] };
  region?: { slug: string };
  size_slug?: string;
  tags?: string[];
  created_at?: string;
  /** The image the droplet was made from (the build record's base image id). */
  image?: { id: number; slug?: string | null };
}

export interface Image {
  id: number;
  name: string;
  type: string;
  distribution: string;
  slug: string | null;
  public: boolean;
  regions: string[];
  created_at: string;
  min_disk_size: number;
  size_gigabytes?: number;
  description?: string;
  tags?: string[];
  status?: string;
  error_message?: string;
}

/** An entry of GET /v2/droplets/{id}/snapshots (fewer fields than an Image). */
export interface DropletSnapshot {
  id: number;
  name: string;
  created_at: string;
  regions: string[];
  min_disk_size: number;
  size_gigabytes?: number;
  type: string;
}

export interface SshKey {
  id: number;
  fingerprint: string;
  name: string;
  public_key?: string;
}

export interface CreateDropletRequest {
  name: string;
  region: string;
  size: string;
  image: string | number;
  ssh_keys: Array<string | number>;
  tags: string[];
  with_droplet_agent: boolean;
  monitoring: boolean;
  ipv6: boolean;
}

/**
 * One entry of softwareIncluded (Vendor API): strings, each optional. A field left out (or null)
 * keeps the listing's value; a blank string would overwrite it.
 */
export interface VendorSoftware {
  name?: string;
  version?: string;
  releaseNotes?: string;
  website?: string;
  licenseType?: string;
  licenseLink?: string;
}

/**
 * PATCH /api/v1/vendor-portal/apps/{app_id}: a key left out (or null) leaves the listing's value as it
 * is; an empty string or an empty array overwrites it.
 */
export interface VendorAppUpdate {
  imageId: number;
  reasonForUpdate: string;
  version?: string | null;
  osVersion?: string | null;
  softwareIncluded?: VendorSoftware[] | null;
}

/** The Vendor API's answer: the listing after the update. */
export interface VendorApp {
  appId: string;
  name?: string;
  version?: number;
  type?: string;
  status?: { value?: string; lastUpdated?: number; modifiedBy?: string; reason?: string };
  customData?: Record<string, unknown>;
}
