// Observability: one Log Analytics workspace (Container Insights and Application Insights both write
// to it) and a workspace-based Application Insights resource for the scoring service's telemetry.
import * as pulumi from '@pulumi/pulumi';
import * as applicationinsights from '@pulumi/azure-native/applicationinsights';
import * as operationalinsights from '@pulumi/azure-native/operationalinsights';

export interface MonitoringArgs {
  resourceGroupName: pulumi.Input<string>;
  location: pulumi.Input<string>;
  workspaceName: pulumi.Input<string>;
  appInsightsName: pulumi.Input<string>;
  /** Days Log Analytics keeps data (30-730). */
  retentionDays: number;
  tags: Record<string, string>;
}

export class Monitoring extends pulumi.ComponentResource {
  /** Resource id of the Log Analytics workspace. */
  readonly workspaceId: pulumi.Output<string>;
  /** Application Insights connection string (secret). */
  readonly appInsightsConnectionString: pulumi.Output<string>;
  readonly appInsightsName: pulumi.Output<string>;

  constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super('model-deploy:infra:Monitoring', name, {}, opts);
    if (args.retentionDays < 30 || args.retentionDays > 730) {
      throw new Error(`Monitoring ${name}: retentionDays ${args.retentionDays} is outside Log Analytics' 30-730 days.`);
    }
    const workspace = new operationalinsights.Workspace(
      `${name}-workspace`,
      {
        workspaceName: args.workspaceName,
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        sku: { name: 'PerGB2018' },
        retentionInDays: args.retentionDays,
        tags: args.tags,
      },
      { parent: this },
    );
    const appInsights = new applicationinsights.Component(
      `${name}-appinsights`,
      {
        resourceName: args.appInsightsName,
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        kind: 'web',
        applicationType: 'web',
        ingestionMode: 'LogAnalytics',
        workspaceResourceId: workspace.id,
        tags: args.tags,
      },
      { parent: this },
    );
    this.workspaceId = workspace.id;
    this.appInsightsName = appInsights.name;
    this.appInsightsConnectionString = pulumi.secret(appInsights.connectionString);
    this.registerOutputs({ workspaceId: this.workspaceId, appInsightsName: this.appInsightsName });
  }
}
