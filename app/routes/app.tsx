import type { HeadersFunction, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { isRouteErrorResponse, Link, Outlet, useLoaderData, useLocation, useNavigation, useRouteError, useRouteLoaderData } from "@remix-run/react";
import { NavMenu } from "@shopify/app-bridge-react";
import { Card, EmptyState, Layout, Page, SkeletonBodyText, SkeletonDisplayText, SkeletonPage } from "@shopify/polaris";
import polarisStyles from "@shopify/polaris/build/esm/styles.css?url";
import { AppProvider } from "@shopify/shopify-app-remix/react";
import { boundary } from "@shopify/shopify-app-remix/server";
import { NO_ILLUSTRATION } from "~/components/format";
import { authenticate } from "~/shopify.server";

export const links = () => [{ rel: "stylesheet", href: polarisStyles }];

// The title of the embedded app's pages that have none of their own, and of the 404 page (ErrorBoundary below).
export const meta: MetaFunction = ({ error }) => [
  { title: isRouteErrorResponse(error) && error.status === 404 ? "Not found · Attentive events" : "Attentive events" },
];

export const loader = async ({ request }: LoaderFunctionArgs) => {
  await authenticate.admin(request);
  return { apiKey: process.env.SHOPIFY_API_KEY ?? "" };
};

function PageSkeleton() {
  return (
    <SkeletonPage primaryAction>
      <Layout>
        <Layout.Section>
          <Card>
            <SkeletonDisplayText size="small" />
            <SkeletonBodyText lines={6} />
          </Card>
        </Layout.Section>
      </Layout>
    </SkeletonPage>
  );
}

export default function EmbeddedApp() {
  const { apiKey } = useLoaderData<typeof loader>();
  const navigation = useNavigation();
  const location = useLocation();
  // Moving to another page shows its skeleton until its data arrives (filters on the same page do not).
  const loadingAnotherPage = navigation.state === "loading" && navigation.location.pathname !== location.pathname;
  return (
    <AppProvider isEmbeddedApp apiKey={apiKey}>
      <NavMenu>
        <Link to="/app" rel="home">
          Home
        </Link>
        <Link to="/app/mappings">Mappings</Link>
        <Link to="/app/deliveries">Delivery log</Link>
        <Link to="/app/backfill">Past orders</Link>
        <Link to="/app/settings">Settings</Link>
      </NavMenu>
      {loadingAnotherPage ? <PageSkeleton /> : <Outlet />}
    </AppProvider>
  );
}

// Shopify needs its own error and header handling for embedded-app redirects; a 404
// (an id that does not exist or belongs to another shop) gets a page of its own.
export function ErrorBoundary() {
  const error = useRouteError();
  const data = useRouteLoaderData<typeof loader>("routes/app");
  if (isRouteErrorResponse(error) && error.status === 404 && data) {
    return (
      <AppProvider isEmbeddedApp apiKey={data.apiKey}>
        <Page title="Not found" backAction={{ content: "Home", url: "/app" }}>
          <Card>
            <EmptyState heading="This page does not exist" action={{ content: "Go to the delivery log", url: "/app/deliveries" }} image={NO_ILLUSTRATION}>
              <p>It may have been deleted, or the link is wrong.</p>
            </EmptyState>
          </Card>
        </Page>
      </AppProvider>
    );
  }
  return boundary.error(error);
}

export const headers: HeadersFunction = (headersArgs) => boundary.headers(headersArgs);
